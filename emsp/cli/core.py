"""`emsp serve` and `emsp migrate`."""

from __future__ import annotations

import secrets
from pathlib import Path

import typer
from pydantic import SecretStr

from emsp.settings import Settings


def _ensure_admin_key(settings: Settings) -> tuple[Settings, str]:
    """The admin key to show: the configured one, else one kept in var/admin-api-key (made on first run)."""
    if settings.admin_keys:
        return settings, "set in EMSP_ADMIN_API_KEYS"
    path = Path("var/admin-api-key")
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(32) + "\n")
        path.chmod(0o600)
    key = path.read_text().strip()
    settings = settings.model_copy(update={"admin_api_keys": [SecretStr(f"local:{key}")]})
    settings.__dict__.pop("admin_keys", None)
    return settings, f"in {path} (cat {path})"


def register(app: typer.Typer) -> None:
    @app.command()
    def migrate() -> None:
        """Apply the database migrations (Alembic) to EMSP_DATABASE_URL."""
        from emsp.migrate import upgrade

        settings = Settings()
        upgrade(settings.database_url)
        typer.echo("database migrated to head")

    @app.command()
    def serve(
        host: str | None = typer.Option(None, help="Listen address (default EMSP_HOST)"),
        port: int | None = typer.Option(None, help="Listen port (default EMSP_PORT)"),
        workers: int = typer.Option(1, help="API processes"),
    ) -> None:
        """Serve the OCPI and admin APIs."""
        import uvicorn

        from emsp.app import create_app

        overrides: dict[str, object] = {}
        if host:
            overrides["host"] = host
        if port:
            overrides["port"] = port
        settings = Settings(**overrides)  # type: ignore[arg-type]
        settings, where = _ensure_admin_key(settings)
        typer.echo(f"OCPI versions URL: {settings.versions_url}")
        typer.echo(f"Admin API key: {where}  (use as 'Authorization: Bearer <key>' on /admin/v1)")
        typer.echo("Invite a partner (prints its token A): .venv/bin/emsp partners invite NAME")
        uvicorn.run(
            create_app(settings),
            host=settings.host,
            port=settings.port,
            log_level=settings.log_level.lower(),
            workers=1 if workers <= 1 else workers,
        )
