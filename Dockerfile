# leads-proxy: mock server and caching proxy for the Sondos AI leads API.
#   docker build -t leads-proxy . && docker run -p 8000:8000 leads-proxy

FROM python:3.12-slim AS build
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy UV_PYTHON_DOWNLOADS=never
RUN pip install --no-cache-dir uv==0.13.9
WORKDIR /srv
# Dependencies first, in their own layer: it changes only with uv.lock.
COPY pyproject.toml uv.lock ./
RUN uv sync --locked --no-dev --no-install-project
COPY README.md ./
COPY fixtures ./fixtures
COPY app ./app
RUN uv sync --locked --no-dev --no-editable

FROM python:3.12-slim
# The user's group has the same id, so that USER 10001:10001 names both.
RUN groupadd --system --gid 10001 leads \
    && useradd --system --uid 10001 --gid 10001 --no-create-home leads
COPY --from=build /srv/.venv /srv/.venv
ENV PATH=/srv/.venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    LEADS_PROXY_HOST=0.0.0.0 \
    LEADS_PROXY_PORT=8000
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=5s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/_proxy/health' % os.environ.get('LEADS_PROXY_PORT', '8000'), timeout=2)"]
CMD ["leads-proxy", "serve"]
