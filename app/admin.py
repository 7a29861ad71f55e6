"""Operating endpoints under /_proxy/."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from app.config import Settings

router = APIRouter(prefix="/_proxy", tags=["operations"])


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


@router.get("/health")
async def health(settings: SettingsDep) -> dict[str, str]:
    """Liveness: the process is up and serving."""
    return {"status": "ok", "mode": settings.mode.value}
