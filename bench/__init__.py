"""Side-by-side benchmark of the service, its ceilings and Seldon MLServer.

Run with `make bench` (or `python -m bench --help`). Everything runs on loopback:
servers pinned to one CPU, load generators (h2load, wrk) to the other.
"""
