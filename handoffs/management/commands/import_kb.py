"""Import knowledge-base articles from Markdown or JSON files (see handoffs.knowledge.kb_import)."""

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from handoffs.knowledge import KnowledgeImportError, kb_import


class Command(BaseCommand):
    help = (
        "Import knowledge-base articles from a Markdown file (optional YAML front matter: title, slug, tags, "
        "language, published), a JSON file (one article object or a list) or a directory of them. "
        "Re-importing updates articles by slug; one bad file imports nothing."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="A .md, .markdown or .json file, or a directory of them.")
        parser.add_argument(
            "--language", default="en", help="Language of articles that do not name one (default: en)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = kb_import(options["path"], default_language=options["language"])
        except KnowledgeImportError as error:
            raise CommandError(error.detail) from error
        self.stdout.write(
            f"Imported {report.total} article(s) from {len(report.files)} file(s): "
            f"{len(report.created)} new, {len(report.updated)} updated, {len(report.unchanged)} unchanged."
        )
