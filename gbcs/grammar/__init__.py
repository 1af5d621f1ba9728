"""construct declarations of the GBCS wire formats (``messages``) and the field constructs they
are made of (``primitives``). Nothing outside ``gbcs/frame.py`` should need to import these."""
