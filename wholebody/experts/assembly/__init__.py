"""Assembly of independently detected parts (faces, palm-found hands) with the people's bodies.

(Named ``assembly`` because the flat module ``experts/assemble.py`` still holds the name
``assemble``; the two belong together once ``experts/`` is split into sub-packages.)
"""
