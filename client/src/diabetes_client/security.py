"""What a client needs for the production edge: TLS settings and a bearer token."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import grpc

Metadata = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class Tls:
    """TLS to the service. `ca_file`: a PEM file of the certificate authorities to trust
    (None: the system's). `server_name`: the name the server's certificate must carry,
    when it is not the target's host (e.g. the target is an IP address)."""

    ca_file: Path | str | None = None
    server_name: str | None = None

    def credentials(self) -> grpc.ChannelCredentials:
        roots = Path(self.ca_file).read_bytes() if self.ca_file is not None else None
        return grpc.ssl_channel_credentials(root_certificates=roots)

    def options(self) -> list[tuple[str, str]]:
        if not self.server_name:
            return []
        return [("grpc.ssl_target_name_override", self.server_name)]


def bearer_metadata(token: str | None) -> Metadata:
    """The call metadata that carries `token` (none without one)."""
    if token is None:
        return ()
    token = token.strip()
    if not token or any(c.isspace() for c in token):
        raise ValueError("the token must be one non-empty word (the JWT itself, no 'Bearer ')")
    return (("authorization", f"Bearer {token}"),)
