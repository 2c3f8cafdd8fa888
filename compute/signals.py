"""Signals other apps answer, so compute never imports them (runs uses compute, not back)."""

from django.dispatch import Signal

# Sent by services.target_delete before it deletes, with `target`. Each receiver returns the
# ids of the runs that still need that target (queued for it or executing on it); any id
# refuses the delete.
target_in_use = Signal()
