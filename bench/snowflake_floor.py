"""The floor of the Snowflake dryRun benchmark: Snowflake's own Python connector doing what a
Warden dry run of a manual Snowflake integration does on the platform, on the same fakesnow:
sign in, run the same statements (given as a JSON list), read their rows, close. Timed per run
inside Python (the interpreter's start is not counted); prints the milliseconds of each run as
a JSON list.

usage: snowflake_floor.py HOST PORT RUNS STATEMENTS_JSON
"""

import json
import sys
import time

import snowflake.connector

host, port, runs, statements = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), json.loads(sys.argv[4])
times = []
for _ in range(runs):
    started = time.perf_counter()
    connection = snowflake.connector.connect(
        user="WARDEN_SYSTEM", password="bench-pw", account="bench", host=host, port=port, protocol="http",
        warehouse="FAKESNOW_WAREHOUSE",
    )
    cursor = connection.cursor()
    for statement in statements:
        cursor.execute(statement)
        cursor.fetchall()
    connection.close()
    times.append((time.perf_counter() - started) * 1000.0)
print(json.dumps(times))
