"""What a candidate hands in: safe intake of folders and archives, contract validation, and the
requirements/lock parser (the only reader of pins)."""
