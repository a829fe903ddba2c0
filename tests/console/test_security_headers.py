"""Security headers on every page: a CSP without inline scripts, no framing, no sniffing."""

import pytest

pytestmark = pytest.mark.django_db


def test_pages_carry_a_strict_content_security_policy(login, agent):
    response = login(agent).get("/")
    policy = response["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    assert directives["script-src"] == "'self'"  # no 'unsafe-inline', no 'unsafe-eval'
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


def test_no_page_has_inline_scripts_or_handlers(login, agent, escalate):
    handoff_id = escalate()
    client = login(agent)
    for path in ("/", f"/handoffs/{handoff_id}/", "/accounts/login/"):
        html = client.get(path).content.decode()
        for marker in ("<script>", " onclick=", " onload=", " onerror=", "javascript:"):
            assert marker not in html, (path, marker)
