"""The two deployments the local server imitates, as IBM documents them: what each
serves and takes, and the defaults of the settings that differ between them.

``cloud`` is IBM Cloud (Standard / Enterprise): v1 and v2, API keys, IAM tokens.
``onprem`` is Event Streams on Cloud Pak for Integration / Event Automation 10.x-13.0:
v1 only (v1.1.0, with schema parameters), Basic with a SCRAM user's name and password
or a client certificate, no API keys and no IAM.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["FROM_PROFILE", "PROFILES", "Profile", "ProfileName"]

ProfileName = Literal["cloud", "onprem"]


class _FromProfile:
    def __repr__(self) -> str:
        return "FROM_PROFILE"


#: the default of a ServerConfig setting that each profile decides: the profile's
#: attribute of the same name gives its value unless the setting is given
FROM_PROFILE: Any = _FromProfile()


@dataclass(frozen=True)
class Profile:
    """One deployment: what it serves and takes, and its defaults of settings."""

    #: the deployment in a few words
    summary: str
    #: serves ``POST /v2/topics/{topic}/records``
    v2: bool
    #: serves ``POST /identity/token`` (IAM's API-key grant)
    iam: bool
    #: takes API keys (Basic ``token:<key>``, Bearer, X-Auth-Token); without them,
    #: users (Basic) and client certificates are the credentials
    api_keys: bool
    #: v1 takes ``schemaname``, ``schemaversion`` and ``schemavalidation`` (v1.1.0)
    schemas: bool
    #: default of ``v1_error_shape``: IBM Cloud's example is nested only; the
    #: on-premises v1.1.0 reference adds ``error_code`` and ``message`` at the top
    v1_error_shape: Literal["v1.1", "v1.0"]


PROFILES: dict[str, Profile] = {
    "cloud": Profile(
        summary="IBM Cloud (v1 and v2, API keys, IAM tokens)",
        v2=True,
        iam=True,
        api_keys=True,
        schemas=False,
        v1_error_shape="v1.0",
    ),
    "onprem": Profile(
        summary="on premises (v1 only, users and client certificates, schemas)",
        v2=False,
        iam=False,
        api_keys=False,
        schemas=True,
        v1_error_shape="v1.1",
    ),
}
