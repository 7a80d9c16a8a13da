"""Countries for the hosts (``attribution``): offline first, from the IP databases in the
``geoip2fast`` wheel (``_ip_database``) and country-code domains (``data/``), then by DNS
(``dns``) for the busiest hosts left."""
