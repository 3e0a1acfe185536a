"""Jinja2 templates of the HTML reports (a package so that wheels ship them)."""
