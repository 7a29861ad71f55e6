"""The commands besides `serve`: fixtures validate, generate, anonymize and pull,
and contract check.
"""
