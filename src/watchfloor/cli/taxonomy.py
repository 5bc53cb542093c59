"""``watchfloor taxonomy …``: check and show the alarm-type taxonomy."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from watchfloor.cli._common import ConfigFile, cli_settings, fail, wide_console
from watchfloor.core.errors import TaxonomyError
from watchfloor.taxonomy import check_taxonomy_file, load_taxonomy

__all__ = ["register"]

taxonomy_app = typer.Typer(help="The alarm-type taxonomy.", no_args_is_help=True)
err_console = Console(stderr=True)
out_console = Console()


def register(app: typer.Typer) -> None:
    """Attach ``taxonomy`` to the command line."""
    app.add_typer(taxonomy_app, name="taxonomy")


@taxonomy_app.command("check")
def taxonomy_check(file: Annotated[Path, typer.Argument(help="Taxonomy TOML file.")]) -> None:
    """Validate a taxonomy file; exit 0 only when it is valid."""
    problems = check_taxonomy_file(file)
    if problems:
        for problem in problems:
            err_console.print(f"[red]{file}:[/red] {problem}", highlight=False)
        raise typer.Exit(1)
    out_console.print(f"{file}: valid", highlight=False)


@taxonomy_app.command("show")
def taxonomy_show(
    file: Annotated[
        Path | None, typer.Option("--file", help="Show this file instead of the one in force.")
    ] = None,
    config: ConfigFile = None,
) -> None:
    """Print the taxonomy in force: the alarm types with priority and basis, and the ladder."""
    settings = cli_settings(config)
    try:
        taxonomy = load_taxonomy(file or settings.taxonomy_file)
    except TaxonomyError as err:
        raise fail(str(err), 1) from err
    table = Table(title=f"watchfloor taxonomy {taxonomy.version}")
    for column in ("code", "name", "category", "priority", "basis", "alarm"):
        table.add_column(column)
    for alarm_type in sorted(taxonomy.types.values(), key=lambda t: t.code):
        table.add_row(
            str(alarm_type.code),
            alarm_type.name,
            alarm_type.category,
            f"P{alarm_type.priority}",
            alarm_type.basis,
            "yes" if alarm_type.raises_alarm else "log only",
        )
    console = wide_console()
    console.print(table)
    steps = [
        level.name + (f" {level.after.total_seconds():g} s later" if index else " at the deadline")
        for index, level in enumerate(taxonomy.escalation_ladder)
    ]
    console.print(f"Overdue alarms escalate to: {', then '.join(steps)}", highlight=False)
