"""The shared server: its deployment settings, its visitors and what they upload.

    settings.py  the deployment's limits and choices, one documented place
                 (`python -m core.server.settings` prints them)
    visitors.py  who is asking: signed visitor ids, admins, what each may see and do
    uploads.py   checkpoints visitors upload, validated and kept per visitor
    throttle.py  failed attempts at the admin token, slowed per session and per address
"""
