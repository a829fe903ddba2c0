"""An agent integration's side of the API: ``Authorization: Token …`` on every request."""

import json
from dataclasses import dataclass, field
from typing import Any

from django.test import Client


@dataclass
class AgentClient:
    token: str
    client: Client = field(default_factory=Client)

    def _auth(self, extra: dict[str, str]) -> dict[str, str]:
        return {"HTTP_AUTHORIZATION": f"Token {self.token}", **extra}

    def get(self, path: str):
        return self.client.get(f"/api/v1/agent{path}", **self._auth({}))

    def get_path(self, path: str):
        """A GET of any API path (reports live outside /agent)."""
        return self.client.get(path, **self._auth({}))

    def post(self, path: str, payload: Any = None, **headers: str):
        body = json.dumps(payload if payload is not None else {})
        return self.client.post(
            f"/api/v1/agent{path}", data=body, content_type="application/json", **self._auth(headers)
        )

    def put(self, path: str, payload: Any):
        return self.client.put(
            f"/api/v1/agent{path}",
            data=json.dumps(payload),
            content_type="application/json",
            **self._auth({}),
        )
