"""What :mod:`csms.operations.certificates` refuses to send (the flows themselves run end to
end in tests/operations/test_certificates_e2e.py)."""

from __future__ import annotations

import datetime as dt

from csms.ocppj import get_validator
from csms.operations.certificates import RENEW_TRIGGERS, install_problem
from tests.security.factories import make_ca, make_leaf


def test_only_one_valid_ca_certificate_may_be_installed() -> None:
    root = make_ca("Root")
    assert install_problem(root.pem, "CSMSRootCertificate") is None
    assert "not a CA" in install_problem(make_leaf("Leaf", root).pem, "CSMSRootCertificate")
    assert "expected one" in install_problem(root.pem + root.pem, "V2GRootCertificate")
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=3)
    assert "not now" in install_problem(make_ca("Future", not_before=later).pem,
                                        "MORootCertificate")
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=3)
    assert "not now" in install_problem(make_ca("Old", days=1, not_before=past).pem,
                                        "MORootCertificate")


def test_each_renewal_trigger_is_an_ocpp_trigger() -> None:
    for version, kinds in (("2.0.1", ("ChargingStationCertificate", "V2GCertificate")),
                           ("2.1", tuple(RENEW_TRIGGERS))):
        for kind in kinds:
            get_validator(version).validate_request(
                "TriggerMessage", {"requestedMessage": RENEW_TRIGGERS[kind]})
