# The title fragment search filters ``title__icontains``, which Django writes on PostgreSQL as
# ``UPPER("title"::text) LIKE UPPER(%s)``: an index on the bare title (0008) is never used for
# it. A trigram index on the very expression is; the bare one goes (nothing else queries it).

from django.db import migrations

POSTGRES_UP = [
    "CREATE INDEX core_search_title_upper_trgm ON core_searchdocument USING gin (UPPER(title::text) gin_trgm_ops)",
    "DROP INDEX IF EXISTS core_search_title_trgm",
]
POSTGRES_DOWN = [
    "CREATE INDEX IF NOT EXISTS core_search_title_trgm ON core_searchdocument USING gin (title gin_trgm_ops)",
    "DROP INDEX IF EXISTS core_search_title_upper_trgm",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for sql in statements:
                schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("core", "0008_search"),
    ]

    operations = [
        migrations.RunPython(_run(POSTGRES_UP), _run(POSTGRES_DOWN)),
    ]
