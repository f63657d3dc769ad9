"""FreeSWITCH configuration for a customer VM (XML), plus the small Python helpers that render
its settings (``render``) and read its dialplan (``dialplan``)."""
