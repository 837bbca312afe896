"""A container registry over its HTTP API v2 (Docker Distribution, OCI): log in, read a digest.

Docker reports a digest when it pushes; the registry is asked again (``HEAD`` of the manifest
with the manifest media types in ``Accept``, answer ``Docker-Content-Digest``), so what is
recorded is what the registry serves. Basic auth (htpasswd) and token auth (``Bearer`` realm:
Docker Hub, GHCR, Harbor...) are both spoken. Credentials are passed in, used for the call and
never kept, logged or put in an error message.
"""

import ipaddress
import re
from dataclasses import dataclass

import requests

TIMEOUT = 30  # seconds per registry call
MANIFEST_TYPES = (
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
)
DIGEST_RE = re.compile(r"^sha256:[0-9a-f]{64}$")
NAME_RE = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")
TAG_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")


class RegistryError(Exception):
    """The registry cannot be reached, refuses the credentials, or lacks what was asked."""


@dataclass
class Registry:
    """``address``: ``host[:port]`` (plain HTTP only on a loopback host, as Docker allows) or a
    ``https://``/``http://`` URL. ``username``/``password`` may be empty (anonymous)."""

    address: str
    username: str = ""
    password: str = ""
    timeout: float = TIMEOUT

    def __post_init__(self):
        self.host, self.base = parse_address(self.address)
        self._session = requests.Session()
        self._session.trust_env = False  # a loopback or private registry is reached directly
        self._token = None

    @property
    def auth_config(self):
        """What Docker's engine takes as X-Registry-Auth (push, pull), or None when anonymous."""
        if not self.username:
            return None
        return {"username": self.username, "password": self.password, "serveraddress": self.host}

    def login(self):
        """Check the credentials against ``/v2/``; raise RegistryError saying why they fail."""
        self._get("/v2/", scope=None)
        return True

    def digest(self, name, reference):
        """The manifest digest (``sha256:...``) the registry serves for ``name:reference``."""
        check_name(name)
        response = self._request("HEAD", f"/v2/{name}/manifests/{reference}", scope=f"repository:{name}:pull")
        if response.status_code == 404:
            raise RegistryError(f"{self.host}/{name}:{reference} is not in the registry")
        self._raise_for(response, f"{self.host}/{name}:{reference}")
        digest = response.headers.get("Docker-Content-Digest", "")
        if not DIGEST_RE.match(digest):
            raise RegistryError(f"{self.host} gave no manifest digest for {name}:{reference} (Docker-Content-Digest: {digest!r})")
        return digest

    def tags(self, name):
        check_name(name)
        response = self._get(f"/v2/{name}/tags/list", scope=f"repository:{name}:pull")
        return sorted(response.json().get("tags") or [])

    # -- HTTP ---------------------------------------------------------------------------------
    def _get(self, path, scope):
        response = self._request("GET", path, scope=scope)
        self._raise_for(response, f"{self.host}{path}")
        return response

    def _request(self, method, path, scope):
        headers = {"Accept": ", ".join(MANIFEST_TYPES)}
        response = self._send(method, path, headers)
        if response.status_code == 401 and self.username:
            challenge = response.headers.get("WWW-Authenticate", "")
            if challenge.lower().startswith("bearer"):
                self._token = self._fetch_token(challenge, scope)
                response = self._send(method, path, dict(headers, Authorization=f"Bearer {self._token}"))
            else:
                response = self._send(method, path, headers, auth=(self.username, self.password))
        elif self._token:
            response = self._send(method, path, dict(headers, Authorization=f"Bearer {self._token}"))
        return response

    def _send(self, method, path, headers, auth=None):
        try:
            return self._session.request(method, self.base + path, headers=headers, auth=auth, timeout=self.timeout, allow_redirects=True)
        except requests.RequestException as exc:
            raise RegistryError(f"registry {self.host} does not answer: {type(exc).__name__}") from exc

    def _fetch_token(self, challenge, scope):
        params = dict(re.findall(r'(\w+)="([^"]*)"', challenge))
        realm = params.pop("realm", "")
        if not realm:
            raise RegistryError(f"registry {self.host} asks for a token without a realm")
        if scope:
            params["scope"] = scope
        try:
            response = self._session.get(realm, params=params, auth=(self.username, self.password), timeout=self.timeout)
        except requests.RequestException as exc:
            raise RegistryError(f"token service of {self.host} does not answer: {type(exc).__name__}") from exc
        if response.status_code in (401, 403):
            raise RegistryError(f"registry {self.host} refused the credentials of {self.username!r}")
        if not response.ok:
            raise RegistryError(f"token service of {self.host} answered HTTP {response.status_code}")
        data = response.json()
        return data.get("token") or data.get("access_token") or ""

    def _raise_for(self, response, what):
        if response.status_code == 401:
            who = f"the credentials of {self.username!r}" if self.username else "anonymous access (no credentials given)"
            raise RegistryError(f"registry {self.host} refused {who}")
        if response.status_code == 403:
            raise RegistryError(f"registry {self.host}: {self.username or 'anonymous'} may not access {what}")
        if not response.ok:
            raise RegistryError(f"registry {self.host}: {what} answered HTTP {response.status_code}")


def parse_address(address):
    """``(host[:port], base URL)`` of a registry address; HTTP is only allowed on loopback."""
    text = (address or "").strip().rstrip("/")
    scheme = None
    if "://" in text:
        scheme, _sep, text = text.partition("://")
    if not text or "/" in text or "@" in text:
        raise RegistryError(f"registry address {address!r}: expected host[:port] or https://host[:port]")
    hostname = text.rsplit(":", 1)[0] if text.count(":") == 1 or text.startswith("[") else text
    loopback = hostname == "localhost" or _is_loopback(hostname.strip("[]"))
    scheme = scheme or ("http" if loopback else "https")
    if scheme not in ("http", "https"):
        raise RegistryError(f"registry address {address!r}: scheme must be https (or http on a loopback host)")
    if scheme == "http" and not loopback:
        raise RegistryError(f"registry address {address!r}: plain HTTP is only allowed on a loopback host; use https")
    return text, f"{scheme}://{text}"


def _is_loopback(host):
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_name(name):
    if not isinstance(name, str) or not NAME_RE.match(name) or len(name) > 255:
        raise RegistryError(f"{name!r} is not a valid image repository name (lowercase letters, digits, '.', '_', '-', '/')")
    return name


def check_tag(tag):
    if not isinstance(tag, str) or not TAG_RE.match(tag):
        raise RegistryError(f"{tag!r} is not a valid image tag (letters, digits, '_', '.', '-', at most 128)")
    return tag


def version_tag(version):
    """A SemVer version as an image tag: Docker tags have no '+', so build metadata joins with '_'
    (as Helm does): ``1.2.0+build.5`` -> ``1.2.0_build.5``."""
    return check_tag(str(version).replace("+", "_"))

