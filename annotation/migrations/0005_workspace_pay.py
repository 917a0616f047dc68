from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("annotation", "0004_task_slug")]

    operations = [
        migrations.AddField(
            model_name="annotation",
            name="active_seconds",
            field=models.FloatField(blank=True, null=True),
        ),
        migrations.AddConstraint(
            model_name="annotation",
            constraint=models.CheckConstraint(
                condition=models.Q(("active_seconds__isnull", True), ("active_seconds__gte", 0), _connector="OR"),
                name="annotation_credited_seconds_nonneg",
            ),
        ),
    ]
