"""The Carbon stand-in: a real process that plays a WSO2 Carbon 4.0/4.1 server (ESB 4.7.0 or ELB
2.0.3) with Tribes WKA clustering, for end-to-end tests of the installer.

Started by the fixture distributions' ``bin/wso2server.sh``::

    python -m tests.support.carbon_standin --carbon-home HOME [-Dsetup] [-DworkerNode=true]
        [-Dwso2.loadbalancer=true -Dloadbalancer.conf=file:repository/conf/loadbalancer.conf]

Environment:

* ``CARBON_STANDIN_HOSTS_FILE``: the hosts file this node resolves names through (each simulated
  server has its own); unset, the system resolver is used;
* ``CARBON_STANDIN_PYTHON`` / ``CARBON_STANDIN_PYTHONPATH``: read by ``wso2server.sh`` to find a
  Python and this package.

The node name is the home folder's name. The node reads its configuration as Carbon does
(:mod:`.config`), logs Carbon's lines to the console and to ``repository/logs/wso2carbon.log``
(:mod:`.logs`), opens its MySQL datasources (:mod:`.database`), joins its well-known members
(:mod:`.membership`), serves HTTP and, as ELB, routes by host name (:mod:`.transports`), and fails
the way Carbon would where the installer can see it (:mod:`.server` runs it all). An ESB node
hot-deploys proxy services and runs their log mediators for ``/services/<name>`` (:mod:`.synapse`,
:mod:`.deployment`) and shares them through carbon.xml's DeploymentSynchronizer: the manager
commits to the config registry (REGISTRY_DB when registry.xml mounts it; in Carbon's own registry
tables, ``REG_PATH``/``REG_RESOURCE``/``REG_CONTENT``, never a table of the stand-in's) and tells
the cluster, the workers check out (:mod:`.depsync`).

It only ever talks to loopback addresses (127.0.0.0/8): a configuration that names another
address is refused with an ERROR, never tried, so that tests cannot reach the machine's network.
"""
