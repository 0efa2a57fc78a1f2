"""Comparative reports: tables, figures, Markdown and HTML (pipeline report and `sdd compare`)."""
