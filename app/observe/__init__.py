"""What the server writes down about its answers: counters, the per-second history,
the request journal, access lines, and the one observer that feeds them all.
"""
