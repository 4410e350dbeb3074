"""Candidates of one task side by side: the table, its terminal and HTML renderings, and where rows come from."""
