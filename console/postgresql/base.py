"""Django's PostgreSQL backend (psycopg 3 and its pool), checking each connection as it leaves the pool.

A PostgreSQL restart breaks every pooled connection, and the pool only finds out when one is used: the
first request on each failed (a 503) until all were used up. Django 5.2 can have psycopg_pool check a
connection before handing it out (``CONN_HEALTH_CHECKS`` passes ``ConnectionPool.check_connection``;
a ``check`` key in the pool options clashes with that argument), but after a failed check the pool
sleeps a back-off (1 s, then 2 s, 4 s, ...) before it tries the next idle connection: the first request
after a restart walks the broken ones one by one and runs into DATABASE_POOL_TIMEOUT.

Here the check is the same empty query, and a broken connection means the server dropped them all: the
request sweeps the pool at once (``ConnectionPool.check()`` discards every broken idle connection and
opens a replacement for each) and takes the first working one. A request pays one round trip for the
check; the first request after a restart pays the reconnections too, and succeeds.
"""

from typing import Any

from django.db.backends.postgresql import base
from psycopg_pool import ConnectionPool


class DatabaseWrapper(base.DatabaseWrapper):
    def get_new_connection(self, conn_params: dict[str, Any]) -> Any:
        connection = super().get_new_connection(conn_params)
        pool = self.pool
        if pool is None:
            return connection
        try:
            ConnectionPool.check_connection(connection)
        except self.Database.Error:
            pool.putconn(connection)  # a broken connection is discarded and replaced, never pooled again
            pool.check()
            connection = super().get_new_connection(conn_params)  # waits up to the pool's timeout
        return connection
