"""Tools for hiring teams: scaffold a task, prove it sound, export the candidates' starter kit."""
