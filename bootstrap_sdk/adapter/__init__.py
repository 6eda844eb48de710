"""The executable adapter: a legacy program serves each invoke.

``command`` decides whether ``_HANDLER`` names a program and finds it; ``executable``
is the handler that runs it per invoke (stdio and file modes) or keeps it running
(``persistent``); ``child_process`` is the one place programs are spawned, watched and
ended; ``workdir`` gives each invoke its own directory under /tmp. Nothing here is
imported for a Python handler.
"""
