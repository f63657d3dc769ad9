"""The ESL controller: FreeSWITCH's outbound event socket, one ``CallSession`` per call.

``protocol`` is the wire format (one parser for both directions), ``connection`` the
controller's side of one socket, ``testing`` a FreeSWITCH stand-in that speaks the same bytes.
"""
