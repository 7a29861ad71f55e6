"""Where HTTP meets the core: the ASGI layer in front of FastAPI, the app factory
and each mode's wiring, routes, /_proxy views, docs, OpenAPI, CORS, the
request-head guard. Only this folder imports FastAPI (and uvicorn).
"""
