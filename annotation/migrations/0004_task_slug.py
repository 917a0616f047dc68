from django.db import migrations, models


def fill_slugs(apps, schema_editor):
    Task = apps.get_model("annotation", "Task")
    for task in Task.objects.filter(slug__isnull=True):
        task.slug = f"task-{task.public_id.lower()}"
        task.save(update_fields=["slug"])


class Migration(migrations.Migration):
    dependencies = [("annotation", "0003_tasks_assignment")]

    operations = [
        migrations.AddField(
            model_name="task",
            name="slug",
            field=models.SlugField(max_length=80, null=True, db_index=False),
        ),
        migrations.RunPython(fill_slugs, migrations.RunPython.noop),
        migrations.AlterField(
            model_name="task",
            name="slug",
            field=models.SlugField(max_length=80, unique=True),
        ),
    ]
