"""The machinery behind ``wholebody predict``: work planning, background I/O, outputs, the run loop.

The estimator itself lives in :mod:`wholebody.experts`; this package only feeds it images and
video frames and writes what it returns.
"""
