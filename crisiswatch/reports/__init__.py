"""HTML reports: the situation briefing and the post-incident report (one self-contained file each)."""
