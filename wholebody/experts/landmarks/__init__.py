"""Landmark experts: each runs on a crop of one part (body, hands, face; feet from the body) and
returns that part's points in original-image pixels.  Nothing is loaded at import.
"""
