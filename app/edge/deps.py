"""FastAPI dependencies: what a route may ask for, taken from the app's state."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from ..http.service import LeadsService
from ..mock.service import MockService
from ..observe.journal import Journal
from ..proxy.service import ProxyService
from ..settings.declarations import Settings


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_service(request: Request) -> LeadsService:
    service: LeadsService = request.app.state.service
    return service


async def get_proxy(request: Request) -> ProxyService:
    """Only routed in proxy and record modes, where the service is a ProxyService."""
    service: ProxyService = request.app.state.service
    return service


async def get_journal(request: Request) -> Journal | None:
    journal: Journal | None = request.app.state.journal
    return journal


async def get_mock(request: Request) -> MockService:
    """Only routed in mock mode, where the service is a MockService."""
    service: MockService = request.app.state.service
    return service


SettingsDep = Annotated[Settings, Depends(get_settings)]
MockDep = Annotated[MockService, Depends(get_mock)]
JournalDep = Annotated[Journal | None, Depends(get_journal)]
ServiceDep = Annotated[LeadsService, Depends(get_service)]
ProxyDep = Annotated[ProxyService, Depends(get_proxy)]
