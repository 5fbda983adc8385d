"""Which addresses a caller-chosen URL may reach: checked address by address, without traffic."""

from ipaddress import ip_address

import pytest

from pipeline.outbound_policy import OutboundPolicy, RefusedAddress

PUBLIC = OutboundPolicy.parse("", "https://video.example.com")
LOCAL = OutboundPolicy.parse("", "http://localhost:8080")


@pytest.mark.parametrize("address", ["10.1.2.3", "192.168.0.10", "172.16.5.5", "fd00::5", "93.184.216.34"])
def test_private_and_public_addresses_are_allowed(address):
    assert PUBLIC.refusal("backend", ip_address(address)) is None


@pytest.mark.parametrize(
    "address", ["127.0.0.1", "::1", "::ffff:127.0.0.1", "169.254.169.254", "fe80::1", "0.0.0.0", "224.0.0.1"]
)
def test_the_hosts_own_and_link_local_addresses_are_refused(address):
    assert PUBLIC.refusal("target", ip_address(address))


def test_loopback_follows_the_public_url_but_link_local_never_does():
    assert LOCAL.refusal("localhost", ip_address("127.0.0.1")) is None
    assert LOCAL.refusal("metadata", ip_address("169.254.169.254"))


def test_a_name_is_refused_when_any_of_its_addresses_is():
    with pytest.raises(RefusedAddress, match="loopback"):
        PUBLIC.check("mixed.example", ["93.184.216.34", "127.0.0.1"])


def test_the_allow_list_takes_networks_and_host_names():
    policy = OutboundPolicy.parse(" 169.254.0.0/16 , Hooks.Internal. ", "https://video.example.com")
    assert policy.refusal("metadata", ip_address("169.254.169.254")) is None
    assert policy.refusal("hooks.internal", ip_address("127.0.0.1")) is None
    assert policy.refusal("other", ip_address("127.0.0.1"))
