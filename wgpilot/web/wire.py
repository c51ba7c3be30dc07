"""The API's JSON shapes (SPEC §6): request bodies and the objects responses carry.
Field names are the column names of SPEC §3."""

from __future__ import annotations

from wgpilot.domain.models import DEFAULT_PRESHARED_KEY
from wgpilot.web.schemas import F, Schema, array_of, boolean, integer, obj, string, strings

TS = {"minimum": 0, "description": "unix seconds"}
MODES = ("gateway", "site-to-site", "hub-routed")
ROLES = ("client", "site-gateway")
DIRECTIONS = ("a_to_b", "b_to_a", "bidirectional")
ALERT_TYPES = ("peer_offline", "interface_down", "transfer_spike")
NOTIFY = ("email", "webhook")

# -- requests -------------------------------------------------------------------------------
LOGIN = Schema(
    "Login",
    {
        "username": string(required=True, max_length=64),
        "password": string(required=True, max_length=1024),
    },
)
PASSWORD_CHANGE = Schema(
    "PasswordChange",
    {
        "current_password": string(required=True, max_length=1024),
        "new_password": string(required=True, max_length=1024),
    },
)
SETUP_ADMIN = Schema(
    "SetupAdmin",
    {
        "install_token": string(required=True, max_length=256),
        "username": string(required=True, max_length=64),
        "password": string(required=True, max_length=1024),
    },
)
SETUP_SERVER = Schema(
    "SetupServer",
    {
        "public_ip": string(required=True, max_length=64),
        "hostname": string(nullable=True, max_length=253),
        "dns_servers": strings(),
    },
)
_NETWORK_FIELDS = {
    "name": string(required=True, max_length=64),
    "mode": string(enum=MODES),
    "subnet": string(required=True, max_length=64),
    "subnet6": string(nullable=True, max_length=64),
    "listen_port": integer(minimum=1, maximum=65535),
    "dns_servers": strings(),
    "mtu": integer(nullable=True, minimum=1280, maximum=9000),
    "nat_enabled": boolean(),
    "inter_peer_routing": boolean(),
    "interface": string(max_length=15, description="default: wg0, wg1, …"),
}
NETWORK_CREATE = Schema("NetworkCreate", _NETWORK_FIELDS)
NETWORK_UPDATE = Schema(
    "NetworkUpdate",
    {k: F(**{**v.__dict__, "required": False}) for k, v in _NETWORK_FIELDS.items() if k != "interface"},
)
_PEER_FIELDS = {
    "name": string(required=True, max_length=64),
    "email": string(nullable=True, max_length=254),
    "role": string(enum=ROLES),
    "site_networks": strings(),
    "client_allowed_ips": strings(description="split tunnel: AllowedIPs of the client config"),
    "persistent_keepalive": integer(nullable=True, minimum=0, maximum=65535),
    "public_key": string(nullable=True, max_length=64, description="bring your own key"),
    "preshared_key": boolean(description="true: generate a preshared key", default=DEFAULT_PRESHARED_KEY),
    "expires_at": integer(nullable=True, **TS),
    "endpoint": string(nullable=True, max_length=260),
}
PEER_CREATE = Schema("PeerCreate", _PEER_FIELDS)
PEER_UPDATE = Schema(
    "PeerUpdate",
    {
        # An update changes only what it names: no field has a default there.
        **{
            k: F(**{**v.__dict__, "required": False, "default": None})
            for k, v in _PEER_FIELDS.items()
            if k != "public_key"
        },
        "enabled": boolean(),
    },
)
SETUP_PEER = Schema("SetupPeer", {"network_id": integer(minimum=1), **_PEER_FIELDS})
SETUP_IMPORT = Schema(
    "SetupImport",
    {
        "interfaces": strings(description="kernel interfaces to import (default: all unmanaged)"),
        "files": strings(description="wg-quick files to import, e.g. /etc/wireguard/wg0.conf"),
    },
)
BRIDGE_CREATE = Schema(
    "BridgeCreate",
    {
        "network_a_id": integer(required=True, minimum=1),
        "network_b_id": integer(required=True, minimum=1),
        "direction": string(enum=DIRECTIONS),
        "allowed_cidrs": strings(),
        "enabled": boolean(),
    },
)
BRIDGE_UPDATE = Schema(
    "BridgeUpdate",
    {
        "direction": string(enum=DIRECTIONS),
        "allowed_cidrs": strings(),
        "enabled": boolean(),
    },
)
SETTINGS_UPDATE = Schema(
    "SettingsUpdate",
    {
        "public_ip": string(nullable=True, max_length=64),
        "hostname": string(nullable=True, max_length=253),
        "default_dns": strings(),
        "smtp_host": string(nullable=True, max_length=253),
        "smtp_port": integer(nullable=True, minimum=1, maximum=65535),
        "smtp_username": string(nullable=True, max_length=256),
        "smtp_password": string(nullable=True, max_length=256, write_only=True),
        "smtp_from": string(nullable=True, max_length=254),
        "smtp_security": string(enum=("starttls", "tls", "none")),
        "alert_email": string(nullable=True, max_length=254),
        "update_channel": string(enum=("stable", "beta")),
    },
)
SMTP_TEST = Schema("SmtpTest", {"to": string(nullable=True, max_length=254)})
ALERT_CREATE = Schema(
    "AlertCreate",
    {
        "type": string(required=True, enum=ALERT_TYPES),
        "threshold": integer(required=True, minimum=0),
        "notify": string(required=True, enum=NOTIFY),
        "target": string(required=True, max_length=2048),
        "enabled": boolean(),
    },
)
ALERT_UPDATE = Schema(
    "AlertUpdate",
    {
        "threshold": integer(minimum=0),
        "notify": string(enum=NOTIFY),
        "target": string(max_length=2048),
        "enabled": boolean(),
    },
)

# -- responses ------------------------------------------------------------------------------
ERROR = Schema("Error", {"error": F("object", required=True, ref="ErrorBody")})
ERROR_BODY = Schema(
    "ErrorBody",
    {
        "code": string(required=True),
        "message": string(required=True, max_length=None),
        "fields": F("array", required=True, items=F("object", ref="FieldError")),
    },
)
FIELD_ERROR = Schema("FieldError", {"field": string(required=True), "message": string(required=True)})
USER = Schema(
    "User",
    {
        "id": integer(required=True),
        "username": string(required=True),
        "role": string(required=True),
        "created_at": integer(required=True, **TS),
    },
)
SESSION = Schema("Session", {"user": obj("User", required=True)})
NETWORK = Schema(
    "Network",
    {
        "id": integer(required=True),
        "name": string(required=True),
        "interface": string(required=True),
        "mode": string(required=True, enum=MODES),
        "subnet": string(required=True),
        "subnet6": string(required=True, nullable=True),
        "listen_port": integer(required=True),
        "public_key": string(required=True),
        "server_address": string(required=True),
        "server_address6": string(required=True, nullable=True),
        "dns_servers": strings(required=True),
        "mtu": integer(required=True, nullable=True),
        "nat_enabled": boolean(required=True),
        "inter_peer_routing": boolean(required=True),
        "enabled": boolean(required=True),
        "created_at": integer(required=True, **TS),
        "updated_at": integer(required=True, **TS),
    },
)
PEER = Schema(
    "Peer",
    {
        "id": integer(required=True),
        "network_id": integer(required=True),
        "name": string(required=True),
        "email": string(required=True, nullable=True),
        "public_key": string(required=True),
        "address": string(required=True),
        "address6": string(required=True, nullable=True),
        "allowed_ips": strings(required=True),
        "client_allowed_ips": strings(required=True),
        "endpoint": string(required=True, nullable=True),
        "persistent_keepalive": integer(required=True, nullable=True),
        "role": string(required=True, enum=ROLES),
        "site_networks": strings(required=True),
        "enabled": boolean(required=True),
        "expires_at": integer(required=True, nullable=True),
        "has_private_key": boolean(required=True),
        "preshared_key": boolean(required=True),
        "created_at": integer(required=True, **TS),
        "updated_at": integer(required=True, **TS),
    },
)
BRIDGE = Schema(
    "Bridge",
    {
        "id": integer(required=True),
        "network_a_id": integer(required=True),
        "network_b_id": integer(required=True),
        "direction": string(required=True, enum=DIRECTIONS),
        "allowed_cidrs": strings(required=True),
        "enabled": boolean(required=True),
        "created_at": integer(required=True, **TS),
        "updated_at": integer(required=True, **TS),
    },
)
PEER_STATUS = Schema(
    "PeerStatus",
    {
        "peer_id": integer(required=True),
        "network_id": integer(required=True),
        "public_key": string(required=True),
        "online": boolean(required=True),
        "last_handshake": integer(required=True, nullable=True),
        "rx_bytes": integer(required=True),
        "tx_bytes": integer(required=True),
        "rx_rate": F("number", required=True),
        "tx_rate": F("number", required=True),
        "endpoint": string(required=True, nullable=True),
    },
)
NETWORK_STATUS = Schema(
    "NetworkStatus",
    {
        "id": integer(required=True),
        "name": string(required=True),
        "interface": string(required=True),
        "mode": string(required=True),
        "enabled": boolean(required=True),
        "listen_port": integer(required=True),
        "interface_present": boolean(required=True),
        "interface_up": boolean(required=True),
        "healthy": boolean(required=True),
        "peers_total": integer(required=True),
        "peers_enabled": integer(required=True),
        "peers_online": integer(required=True),
        "rx_bytes": integer(required=True),
        "tx_bytes": integer(required=True),
        "error": string(required=True, nullable=True, max_length=None),
    },
)
STATUS = Schema(
    "Status",
    {
        "driver": string(required=True),
        "kernel_enabled": boolean(required=True),
        "networks": array_of("NetworkStatus", required=True),
        "peers": array_of("PeerStatus", required=True),
        "diagnostics": F("array", required=True, items=F("string")),
        "foreign_interfaces": strings(required=True),
    },
)
AUDIT = Schema(
    "AuditEntry",
    {
        "id": integer(required=True),
        "timestamp": integer(required=True, **TS),
        "user_id": integer(required=True, nullable=True),
        "username": string(required=True, nullable=True),
        "action": string(required=True),
        "resource": string(required=True),
        "resource_name": string(
            required=True,
            nullable=True,
            description="its name at the time of the action, else now (a bridge: its networks; an alert: its type)",
        ),
        "detail": F("object", required=True),
        "ip_address": string(required=True, nullable=True),
    },
)
SETTINGS = Schema(
    "Settings",
    {
        "public_ip": string(required=True, nullable=True),
        "hostname": string(required=True, nullable=True),
        "default_dns": strings(required=True),
        "smtp_host": string(required=True, nullable=True),
        "smtp_port": integer(required=True, nullable=True),
        "smtp_username": string(required=True, nullable=True),
        "smtp_password_set": boolean(required=True),
        "smtp_from": string(required=True, nullable=True),
        "smtp_security": string(required=True),
        "alert_email": string(required=True, nullable=True),
        "update_channel": string(required=True),
        "problems": F(
            "array",
            items=F("object", ref="FieldError"),
            required=True,
            description="saved values that today's validation refuses (saved by an older version): correct them",
        ),
    },
)
METRICS_TOKEN = Schema(
    "MetricsToken",
    {
        "source": string(required=True, enum=("generated", "config")),
        "token": string(required=True, nullable=True),
    },
)
SETUP_STATUS = Schema(
    "SetupStatus",
    {
        "setup_complete": boolean(required=True),
        "steps": F("object", required=True, ref="SetupSteps"),
        "next_step": string(required=True, nullable=True, enum=("admin", "server", "network", "peer")),
        "detected_public_ip": string(required=True, nullable=True),
        "existing_interfaces": array_of("ExistingInterface", required=True),
        "driver": string(required=True),
    },
)
SETUP_STEPS = Schema(
    "SetupSteps",
    {
        "admin": boolean(required=True),
        "server": boolean(required=True),
        "network": boolean(required=True),
        "peer": boolean(required=True),
    },
)
EXISTING_INTERFACE = Schema(
    "ExistingInterface",
    {
        "name": string(required=True),
        "peers": integer(required=True),
        "listen_port": integer(required=True, nullable=True),
        "source": string(required=True, enum=("kernel", "file")),
        "path": string(required=True, nullable=True),
        # false: the import would leave it as it is (see problems)
        "importable": boolean(required=True),
        "problems": F("array", required=True, items=F("string")),  # what the import would warn of
    },
)
PEER_WITH_CONFIG = Schema(
    "PeerWithConfig", {"peer": obj("Peer", required=True), "config": string(required=True, max_length=None)}
)
IMPORT_RESULT = Schema(
    "ImportResult",
    {
        "networks": array_of("Network", required=True),
        "warnings": F("array", required=True, items=F("string")),
    },
)
SYSTEM_INFO = Schema(
    "SystemInfo",
    {
        "version": string(required=True),
        "commit": string(required=True),
        "build_date": string(required=True),
        "uptime": integer(required=True),
        "driver": string(required=True),
        "hostname": string(required=True),
        "kernel": string(required=True),
        "python": string(required=True),
        "database": F("object", required=True),
        "update": F("object", required=True),
    },
)
RESTORE_RESULT = Schema(
    "RestoreResult",
    {
        "restored": boolean(required=True),
        "networks": integer(required=True),
        "peers": integer(required=True),
        "kernel_errors": F(
            "array",
            items=F("string"),
            required=True,
            description="what the kernel refused of the restored state (retried by the next reconcile)",
        ),
    },
)
CHECK_RESULT = Schema(
    "CheckResult",
    {"ok": boolean(required=True), "message": string(required=True, max_length=None)},
    additional=True,
)
HEALTH = Schema(
    "Health",
    {
        "status": string(required=True, enum=("healthy", "degraded")),
        "version": string(required=True),
        "uptime": integer(required=True),
        "networks": F("object", required=True),
        "database": string(required=True),
        "driver": string(required=True),
    },
    additional=True,
)
ALERT = Schema(
    "Alert",
    {
        "id": integer(required=True),
        "type": string(required=True, enum=ALERT_TYPES),
        "threshold": integer(required=True),
        "notify": string(required=True, enum=NOTIFY),
        "target": string(required=True, max_length=None),
        "enabled": boolean(required=True),
        "created_at": integer(required=True, **TS),
        "updated_at": integer(required=True, **TS),
        "state": string(required=True, enum=("ok", "firing")),
        "last_delivery": obj("AlertDelivery", required=True, nullable=True),
    },
)
ALERT_DELIVERY = Schema(
    "AlertDelivery",
    {
        "status": string(required=True, enum=("sent", "retrying", "failed")),
        "attempts": integer(required=True),
        "error": string(required=True, nullable=True, max_length=None),
        "attempted_at": integer(required=True, **TS),
        "sent_at": integer(required=True, nullable=True, **TS),
    },
    description="How the latest notice of the rule fared (retrying: an attempt failed, another is due)",
)
STATS_POINT = Schema(
    "StatsPoint",
    {
        "timestamp": integer(required=True, **TS),
        "rx_bytes": integer(required=True, minimum=0),
        "tx_bytes": integer(required=True, minimum=0),
    },
)
STATS = Schema(
    "Stats",
    {
        "granularity": string(required=True, enum=("raw", "hour", "day")),
        "from": integer(required=True, **TS),
        "to": integer(required=True, **TS),
        "series": array_of("StatsPoint", required=True),
    },
    additional=True,
)
GENERIC = Schema("Object", {}, additional=True)


def page(item: str) -> Schema:
    return Schema(
        f"{item}Page",
        {
            "items": array_of(item, required=True),
            "total": integer(required=True, minimum=0),
        },
    )


RESPONSE_SCHEMAS = [
    ERROR,
    ERROR_BODY,
    FIELD_ERROR,
    USER,
    SESSION,
    NETWORK,
    PEER,
    BRIDGE,
    PEER_STATUS,
    NETWORK_STATUS,
    STATUS,
    AUDIT,
    SETTINGS,
    METRICS_TOKEN,
    SETUP_STATUS,
    SETUP_STEPS,
    EXISTING_INTERFACE,
    PEER_WITH_CONFIG,
    IMPORT_RESULT,
    SYSTEM_INFO,
    RESTORE_RESULT,
    CHECK_RESULT,
    HEALTH,
    ALERT,
    ALERT_DELIVERY,
    STATS_POINT,
    STATS,
    GENERIC,
    page("Alert"),
    page("Network"),
    page("Peer"),
    page("Bridge"),
    page("AuditEntry"),
]
