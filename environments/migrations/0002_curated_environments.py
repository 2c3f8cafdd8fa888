"""The curated environments every workspace sees (MLStudio-Minimal, MLStudio-SKLearn,
MLStudio-PyTorch-CPU). Their names start with the reserved `MLStudio-`."""

from django.db import migrations


def register_curated(apps, schema_editor):
    from environments.curated import curated_ensure

    curated_ensure(apps, schema_editor.connection.alias)


def remove_curated(apps, schema_editor):
    Environment = apps.get_model("environments", "Environment")
    Environment.objects.filter(workspace=None, name__startswith="MLStudio-").delete()


class Migration(migrations.Migration):
    dependencies = [("environments", "0001_initial")]

    operations = [migrations.RunPython(register_curated, remove_curated)]
