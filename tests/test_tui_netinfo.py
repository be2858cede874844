"""Which server of the plan this machine is: a guess the operator confirms."""

from __future__ import annotations

from installer.netinfo import guess_this_server, local_addresses

SERVERS = [("server-206", "192.0.2.206"), ("server-132", "192.0.2.132")]


def test_an_interface_address_names_the_server():
    guess = guess_this_server(SERVERS, {"192.0.2.132": "eth0", "127.0.0.1": "lo"})
    assert guess.name == "server-132"
    assert "192.0.2.132 is an address of this machine (eth0)" in guess.reason


def test_two_plan_addresses_on_this_machine_is_a_question_not_a_guess():
    guess = guess_this_server(SERVERS, {"192.0.2.132": "eth0", "192.0.2.206": "eth1"})
    assert guess.name is None
    assert guess.candidates == ("server-206", "server-132")


def test_no_plan_address_here_says_so():
    guess = guess_this_server(SERVERS, {"10.1.1.1": "eth0"})
    assert guess.name is None and "none of the plan's server addresses" in guess.reason


def test_a_loopback_plan_address_is_this_machine_unless_several_are():
    one = guess_this_server([("a", "127.0.0.2"), ("b", "192.0.2.1")], {"127.0.0.1": "lo"})
    assert one.name == "a"
    both = guess_this_server([("a", "127.0.0.2"), ("b", "127.0.0.3")], {"127.0.0.1": "lo"})
    assert both.name is None and both.candidates == ("a", "b")
    # An interface address beats loopback.
    mixed = guess_this_server([("a", "127.0.0.2"), ("b", "192.0.2.1")], {"192.0.2.1": "eth0"})
    assert mixed.name == "b"


def test_addresses_are_compared_as_addresses_and_text_that_is_not_one_is_ignored():
    guess = guess_this_server([("a", "not-an-address"), ("b", "2001:db8::0001")], {"2001:db8::1": "eth0"})
    assert guess.name == "b"


def test_this_machine_has_its_loopback_address():
    assert local_addresses().get("127.0.0.1") == "lo"
