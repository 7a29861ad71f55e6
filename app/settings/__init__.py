"""Every setting declared once (`declarations`), the values they take (`values`),
their defaults shared with the core (`defaults`) and the words of their flags and
errors (`text`).
"""
