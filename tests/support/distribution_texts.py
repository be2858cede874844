"""The text of the configuration files inside the fixture WSO2 distributions.

Our own files, modelled on the shape of the real ones of the Carbon 4.0/4.1 era (see
``../shared/carbon-configs/SOURCES.md``) but much shorter. What the installer's patchers and the
Carbon stand-in must cope with is kept on purpose, and each such quirk is named in a comment
next to the text that carries it:

- XML declarations as the real files have them: ``encoding="ISO-8859-1"`` (axis2.xml, carbon.xml,
  registry.xml), single quotes (catalina-server.xml), none at all (master-datasources.xml,
  user-mgt.xml);
- the commented-out defaults the patchers replace or insert next to:
  ``<!--parameter name="localMemberHost">127.0.0.1</parameter-->``,
  ``<!--HostName>www.wso2.org</HostName-->``, ``<!--parameter name="WSDLEPRPrefix" ...-->``;
- attributes spread over several lines, tabs mixed with spaces, trailing blanks, a file without
  a final newline, entities in text (``&lt;&gt;``), other ``<Name>`` elements deeper in
  carbon.xml than the product name;
- in ``mysql.sql``: ``CREATE TABLE IF NOT EXISTS`` for the registry tables but a plain
  ``CREATE TABLE`` for the user-manager tables and plain ``CREATE INDEX`` statements (neither is
  idempotent, exactly as in the Carbon kernel script), ``--`` and ``/* */`` comments and string
  literals holding ``;``.

Every function returns ``str``; the builder encodes it (all of it is ASCII). Trailing blanks
are written ``\x20`` so that no editor strips them unnoticed.
"""

from __future__ import annotations

# --------------------------------------------------------------------------------------------
# Shared by both products (Carbon kernel files)
# --------------------------------------------------------------------------------------------


def carbon_xml(*, name: str, server_key: str, version: str, server_role: str) -> str:
    """``repository/conf/carbon.xml`` with the product values a built pack has filled in."""
    # The ServerURL/WorkDirectory values use ${...} system properties, as in the real file;
    # they are kept literally (this is not an f-string for that reason).
    text = """<?xml version="1.0" encoding="ISO-8859-1"?>

<!--
  ~ wso2-cluster-installer test fixture. It has the layout of the carbon.xml of a
  ~ Carbon 4.0/4.1 product pack (same elements, same commented-out defaults), cut short.
  -->

<!--
    Main server configuration of this Carbon server.
    ${carbon.home} and the other ${...} values are system properties, resolved at start-up.
-->
<Server xmlns="http://wso2.org/projects/carbon/carbon.xml">

    <!--
       Name of the product, as printed at start-up
    -->
    <Name>@NAME@</Name>

    <!--
       Short, machine readable key of the product
    -->
    <ServerKey>@SERVER_KEY@</ServerKey>

    <!--
       Version of the product
    -->
    <Version>@VERSION@</Version>

    <!--
       The host name (or IP address) clients use to reach this server, e.g. www.wso2.org or
       192.168.1.10. It becomes part of the endpoint references of the services deployed here.
    -->
    <!--HostName>www.wso2.org</HostName-->

    <!--
       The host name of the management console
    -->
    <!--MgtHostName>mgt.wso2.org</MgtHostName-->

    <!--
       Where the front end finds the admin services of the back end.
    -->
    <ServerURL>https://${carbon.local.ip}:${carbon.management.port}${carbon.context}/services/</ServerURL>

    <!--
       The roles this server can take when a carbon application is deployed; regular
       expressions are allowed, e.g. <Role>.*</Role>
    -->
    <ServerRoles>
        <Role>@SERVER_ROLE@</Role>
    </ServerRoles>

    <Package>org.wso2.carbon</Package>

    <!--
       Context root of the Carbon web application
    -->
    <WebContextRoot>/</WebContextRoot>

    <ItemsPerPage>15</ItemsPerPage>

    <!--
       Ports used by this server
    -->
    <Ports>

        <!-- Added to every port of this server, the ones below and the transport ports of
             axis2.xml and catalina-server.xml: with an Offset of 1, HTTPS 9443 becomes 9444.
         -->
        <Offset>0</Offset>

        <!-- JMX -->
        <JMX>
            <!-- port of the RMI registry -->
            <RMIRegistryPort>9999</RMIRegistryPort>
            <!-- port of the RMI server -->
            <RMIServerPort>11111</RMIServerPort>
        </JMX>

        <!-- the embedded LDAP server -->
        <EmbeddedLDAP>
            <LDAPServerPort>10389</LDAPServerPort>
            <KDCServerPort>8000</KDCServerPort>
        </EmbeddedLDAP>
\t
\t<!--
             overrides the JNDI provider port set in other configuration files
\t-->
\t<!--<JNDIProviderPort>2199</JNDIProviderPort>-->
\t<ThriftEntitlementReceivePort>10500</ThriftEntitlementReceivePort>

    </Ports>

    <!--
       Roles of the built-in admin services. Their <Name> elements are not the product name.
    -->
    <ServiceUserRoles>
        <Role>
            <Name>admin</Name>
            <Description>May call every admin service</Description>
        </Role>
        <Role>
            <Name>user</Name>
            <Description>May log in to the console</Description>
        </Role>
    </ServiceUserRoles>

    <!-- Deployment synchronizer: the manager node commits artifacts, worker nodes check
         them out. Uncomment to use it.
    <DeploymentSynchronizer>
        <Enabled>true</Enabled>
        <AutoCommit>false</AutoCommit>
        <AutoCheckout>true</AutoCheckout>
    </DeploymentSynchronizer>
    -->

    <WorkDirectory>${carbon.home}/tmp/work</WorkDirectory>

</Server>
"""
    return (
        text.replace("@NAME@", name)
        .replace("@SERVER_KEY@", server_key)
        .replace("@VERSION@", version)
        .replace("@SERVER_ROLE@", server_role)
    )


def catalina_server_xml() -> str:
    """``repository/conf/tomcat/catalina-server.xml``: the servlet transports 9763 / 9443."""
    # Single-quoted declaration and multi-line attributes, as in the real file.
    return """<?xml version='1.0' encoding='utf-8'?>
<!--
  wso2-cluster-installer test fixture modelled on the catalina-server.xml of a Carbon 4.0
  pack: the servlet HTTP and HTTPS connectors, before the carbon.xml port offset is added.
-->

<Server port="8005" shutdown="SHUTDOWN">

  <Service className="org.wso2.carbon.tomcat.ext.service.ExtendedStandardService" name="Catalina">

    <!--
\tbehind a proxy or load balancer, add:

\tproxyPort="80"
    -->
    <Connector  protocol="org.apache.coyote.http11.Http11NioProtocol"
                port="9763"
                server="WSO2 Carbon Server"
                bindOnInit="false"
                maxThreads="250"
                compression="on"
                URIEncoding="UTF-8"/>

    <!--
\tbehind a proxy or load balancer, add:

\tproxyPort="443"
    -->
    <Connector  protocol="org.apache.coyote.http11.Http11NioProtocol"
                port="9443"
                server="WSO2 Carbon Server"
                scheme="https"
                secure="true"
                SSLEnabled="true"
                sslProtocol="TLS"
                clientAuth="false"
                bindOnInit="false"
                maxThreads="250"
                keystoreFile="${carbon.home}/repository/resources/security/wso2carbon.jks"
                keystorePass="wso2carbon"\x20
                URIEncoding="UTF-8"/>

    <Engine name="Catalina" defaultHost="localhost">

      <Realm className="org.wso2.carbon.tomcat.ext.realms.CarbonTomcatRealm"/>

      <Host name="localhost" unpackWARs="true" deployOnStartup="false" autoDeploy="false" appBase="${carbon.home}/repository/deployment/server/webapps/">
          <Valve className="org.wso2.carbon.tomcat.ext.valves.CarbonContextCreatorValve"/>
          <Valve className="org.apache.catalina.valves.AccessLogValve" directory="${carbon.home}/repository/logs"
               prefix="http_access_" suffix=".log"
               pattern="combined" />
      </Host>
    </Engine>
  </Service>
</Server>
"""


def log4j_properties(*, product_label: str, error_log: str) -> str:
    """``repository/conf/log4j.properties``: console and file layouts of a 4.7.0-era product.

    ``error_log`` is written as given: the ESB puts it under ``${carbon.home}``, the ELB uses a
    path relative to the working folder.
    """
    return f"""# wso2-cluster-installer test fixture modelled on the log4j.properties of {product_label}.
# Only the loggers and appenders that the installer and the Carbon stand-in look at.

log4j.rootLogger=ERROR, CARBON_CONSOLE, CARBON_LOGFILE, ERROR_LOGFILE

log4j.logger.org.apache.axis2=INFO
log4j.logger.org.apache.synapse=INFO
log4j.logger.org.wso2=INFO
log4j.logger.org.wso2.carbon=INFO
log4j.logger.org.apache.catalina=WARN

# Console lines look like:
# [2013-06-28 10:30:00,123]  INFO - TribesClusteringAgent Initializing cluster...
log4j.appender.CARBON_CONSOLE=org.apache.log4j.ConsoleAppender
log4j.appender.CARBON_CONSOLE.layout=org.apache.log4j.PatternLayout
log4j.appender.CARBON_CONSOLE.layout.ConversionPattern=[%d{{ISO8601}}] %5p - %c{{1}} %m%n

# The server log, rolled over every day
log4j.appender.CARBON_LOGFILE=org.apache.log4j.DailyRollingFileAppender
log4j.appender.CARBON_LOGFILE.File=${{carbon.home}}/repository/logs/wso2carbon.log
log4j.appender.CARBON_LOGFILE.Append=true
log4j.appender.CARBON_LOGFILE.layout=org.wso2.carbon.utils.logging.TenantAwarePatternLayout
log4j.appender.CARBON_LOGFILE.layout.ConversionPattern=TID: [%T] [%S] [%d] %P%5p {{%c}} - %x %m {{%c}}%n
log4j.appender.CARBON_LOGFILE.layout.TenantPattern=%U%@%D [%T] [%S]
log4j.appender.CARBON_LOGFILE.threshold=DEBUG

# Warnings and errors only
log4j.appender.ERROR_LOGFILE=org.apache.log4j.FileAppender
log4j.appender.ERROR_LOGFILE.File={error_log}
log4j.appender.ERROR_LOGFILE.layout=org.apache.log4j.PatternLayout
log4j.appender.ERROR_LOGFILE.layout.ConversionPattern=%d{{ISO8601}} [%t] %5p %c{{1}} %m%n
log4j.appender.ERROR_LOGFILE.threshold=WARN
"""


def wso2server_sh(*, extra_arguments: str = "") -> str:
    """``bin/wso2server.sh``: launches the Carbon stand-in instead of a JVM.

    ``extra_arguments`` go before the caller's arguments (the ELB's real script adds its
    ``-Dwso2.loadbalancer=true -Dloadbalancer.conf=...`` system properties the same way).
    """
    extra = f"{extra_arguments} " if extra_arguments else ""
    return f"""#!/bin/sh
# Launcher of the Carbon stand-in (tests/support/carbon_standin) in the fixture
# distributions of wso2-cluster-installer. It finds CARBON_HOME the way the real
# Carbon script does, changes to it, and runs the stand-in where Carbon runs a JVM.
#
#   CARBON_STANDIN_PYTHON      the Python to run (default: python3)
#   CARBON_STANDIN_PYTHONPATH  put in front of PYTHONPATH, so that the tests package imports

# $0 may be a symbolic link: follow it to the real script.
PRG="$0"
while [ -h "$PRG" ]; do
    link=`ls -ld "$PRG" | sed 's/.*-> //'`
    case "$link" in
        /*) PRG="$link" ;;
        *) PRG=`dirname "$PRG"`/"$link" ;;
    esac
done
PRGDIR=`dirname "$PRG"`

# As in Carbon, a CARBON_HOME set by the caller wins over the script's location.
[ -z "$CARBON_HOME" ] && CARBON_HOME=`cd "$PRGDIR/.." ; pwd`
export CARBON_HOME

if [ -n "$CARBON_STANDIN_PYTHONPATH" ]; then
    PYTHONPATH="$CARBON_STANDIN_PYTHONPATH${{PYTHONPATH:+:$PYTHONPATH}}"
    export PYTHONPATH
fi

echo "CARBON_HOME environment variable is set to $CARBON_HOME"
cd "$CARBON_HOME" || exit 1
exec "${{CARBON_STANDIN_PYTHON:-python3}}" -m tests.support.carbon_standin --carbon-home "$CARBON_HOME" {extra}"$@"
"""


# --------------------------------------------------------------------------------------------
# WSO2 ESB 4.7.0
# --------------------------------------------------------------------------------------------


def esb_axis2_xml(version: str) -> str:
    """``repository/conf/axis2/axis2.xml`` of the ESB: clustering present but off, multicast."""
    # Quirks kept from the real ESB 4.7.0 file:
    # - the https receiver is indented by six spaces, and its non-blocking parameter is
    #   followed by a stray "-->" (left over from a commented-out block; plain text to XML);
    # - both pass-through receivers carry WSDLEPRPrefix only as a comment;
    # - groupManagement/applicationDomain, nodeManager and stateManager spread their
    #   attributes over several lines.
    text = """<?xml version="1.0" encoding="ISO-8859-1"?>
<!--
  ~ wso2-cluster-installer test fixture modelled on the axis2.xml of WSO2 ESB 4.7.0:
  ~ the same elements and commented-out defaults, far fewer of them.
  -->

<axisconfig name="AxisJava2.0">

    <!-- ================================================= -->
    <!--                  Parameters                       -->
    <!-- ================================================= -->

    <!-- deploy and update services while the server runs -->
    <parameter name="hotdeployment" locked="false">true</parameter>
    <parameter name="hotupdate" locked="false">true</parameter>

    <!-- what this server calls itself in HTTP headers -->
    <parameter name="userAgent" locked="true">WSO2 ESB @VERSION@</parameter>
    <parameter name="server" locked="true">WSO2 ESB @VERSION@</parameter>

    <!-- where Synapse finds its configuration -->
    <parameter name="SynapseConfig.ConfigurationFile" locked="false">repository/deployment/server/synapse-configs</parameter>
    <parameter name="SynapseConfig.HomeDirectory" locked="false">.</parameter>
    <parameter name="SynapseConfig.ServerName" locked="false">localhost</parameter>

    <listener class="org.wso2.carbon.core.deployment.DeploymentInterceptor"/>

    <!-- ================================================= -->
    <!--             Transport Ins (Listeners)             -->
    <!-- ================================================= -->

    <!-- The pass-through HTTP listener. Ports are given without the carbon.xml offset,
         which is added at start-up. -->
    <transportReceiver name="http" class="org.apache.synapse.transport.passthru.PassThroughHttpListener">
        <parameter name="port" locked="false">8280</parameter>
        <parameter name="non-blocking" locked="false">true</parameter>
        <!--parameter name="bind-address" locked="false">hostname or IP address</parameter-->
        <!--parameter name="WSDLEPRPrefix" locked="false">https://apachehost:port/somepath</parameter-->
        <parameter name="httpGetProcessor" locked="false">org.wso2.carbon.transport.nhttp.api.PassThroughNHttpGetProcessor</parameter>
    </transportReceiver>

    <!-- The older NIO listener; swap it in for the one above if needed -->
    <!--transportReceiver name="http" class="org.apache.synapse.transport.nhttp.HttpCoreNIOListener">
        <parameter name="port" locked="false">8280</parameter>
        <parameter name="non-blocking" locked="false">true</parameter>
    </transportReceiver-->

      <transportReceiver name="https" class="org.apache.synapse.transport.passthru.PassThroughHttpSSLListener">
        <parameter name="port" locked="false">8243</parameter>
        <parameter name="non-blocking" locked="false">true</parameter>-->
        <!--parameter name="WSDLEPRPrefix" locked="false">https://apachehost:port/somepath</parameter-->
        <!-- the key pair of this HTTPS listener -->
        <parameter name="keystore" locked="false">
            <KeyStore>
                <Location>repository/resources/security/wso2carbon.jks</Location>
                <Type>JKS</Type>
                <Password>wso2carbon</Password>
                <KeyPassword>wso2carbon</KeyPassword>
            </KeyStore>
        </parameter>
        <parameter name="httpGetProcessor" locked="false">org.wso2.carbon.transport.nhttp.api.PassThroughNHttpGetProcessor</parameter>
        <!--<parameter name="SSLVerifyClient">require</parameter>
            optional or require; none when absent -->
    </transportReceiver>

    <transportReceiver name="local" class="org.wso2.carbon.core.transports.local.CarbonLocalTransportReceiver"/>

    <!-- ================================================= -->
    <!--             Transport Outs (Senders)              -->
    <!-- ================================================= -->

    <transportSender name="http" class="org.apache.synapse.transport.passthru.PassThroughHttpSender">
        <parameter name="non-blocking" locked="false">true</parameter>
    </transportSender>
    <transportSender name="https" class="org.apache.synapse.transport.passthru.PassThroughHttpSSLSender">
        <parameter name="non-blocking" locked="false">true</parameter>
        <parameter name="HostnameVerifier">AllowAll</parameter>
    </transportSender>
    <transportSender name="local" class="org.wso2.carbon.core.transports.local.CarbonLocalTransportSender"/>

    <!-- ================================================= -->
    <!--                Clustering                         -->
    <!-- ================================================= -->
    <!--
     Set enable="true" to make this node a cluster member. The class is the clustering
     agent; the Tribes agent below is the only one this release supports.
    -->
    <clustering class="org.apache.axis2.clustering.tribes.TribesClusteringAgent" enable="false">

        <!--
           true: the cluster is not joined while the AxisConfiguration is built; Carbon joins
           it later, once the server is ready.
        -->
        <parameter name="AvoidInitiation">true</parameter>

        <!--
           How members find each other: "multicast", or "wka" (well-known addresses). With wka
           a new member contacts the members listed under <members> below, which tell it who
           else is in the cluster and tell the others about it.
        -->
        <parameter name="membershipScheme">multicast</parameter>

        <!--
         The cluster (group) this member belongs to. Members of other domains are ignored.
        -->
        <parameter name="domain">wso2.carbon.domain</parameter>

        <!--
           true: a response is sent only after every member has received the state changes
           the request caused.
        -->
        <parameter name="synchronizeAll">true</parameter>

        <!-- how often to retry a message before a member is taken as failed -->
        <parameter name="maxRetries">10</parameter>

        <!-- multicast group address and port -->
        <parameter name="mcastAddress">228.0.0.4</parameter>
        <parameter name="mcastPort">45564</parameter>

        <!-- how often membership heartbeats are sent (ms) -->
        <parameter name="mcastFrequency">500</parameter>

        <!-- a member silent for this long (ms) has left the group -->
        <parameter name="memberDropTime">3000</parameter>

        <!--
           The address of the network interface that sends and receives the multicast traffic
        -->
        <!--parameter name="mcastBindAddress">127.0.0.1</parameter-->

        <!-- The host name or IP address this member advertises -->
        <!--parameter name="localMemberHost">127.0.0.1</parameter-->

        <!--
        The TCP port other members use to reach this one. The carbon.xml offset is not added.
         -->
        <parameter name="localMemberPort">4000</parameter>

        <!-- deliver messages in the order each sender sent them -->
        <parameter name="preserveMessageOrder">true</parameter>

        <!-- process each message at most once -->
        <parameter name="atmostOnceMessageSemantics">false</parameter>

        <!--
        Properties this member publishes to the rest of the cluster
        -->
        <parameter name="properties">
            <property name="backendServerURL" value="https://${hostName}:${httpsPort}/services/"/>
            <property name="mgtConsoleURL" value="https://${hostName}:${httpsPort}/"/>
        </parameter>

        <!-- The well-known members, used only when membershipScheme is "wka" -->
        <members>
            <member>
                <hostName>127.0.0.1</hostName>
                <port>4000</port>
            </member>
            <member>
                <hostName>127.0.0.1</hostName>
                <port>4001</port>
            </member>
        </members>

        <!--
        Turn on to make this node manage the groups listed here (a load balancer does this).
        -->
        <groupManagement enable="false">
            <applicationDomain name="apache.axis2.application.domain"
                               description="Axis2 group"
                               agent="org.apache.axis2.clustering.management.DefaultGroupManagementAgent"/>
        </groupManagement>

        <!--
           Node management: applies configuration changes across the cluster
        -->
        <nodeManager class="org.apache.axis2.clustering.management.DefaultNodeManager"
                     enable="true"/>

        <!--
           State replication of the Axis2 context properties; names matching an exclude
           pattern (prefix* or *suffix) stay local.
        -->
        <stateManager class="org.apache.axis2.clustering.state.DefaultStateManager"
                      enable="false">
            <replication>
                <!-- applies to every context -->
                <defaults>
                    <exclude name="local_*"/>
                </defaults>
                <context class="org.apache.axis2.context.ServiceContext">
                    <exclude name="local_*"/>
                    <exclude name="NoReplication"/>
                </context>
            </replication>
        </stateManager>
    </clustering>

    <!-- ================================================= -->
    <!--                    Phases                         -->
    <!-- ================================================= -->
    <phaseOrder type="InFlow">
        <phase name="Transport"/>
        <phase name="Addressing"/>
        <phase name="Security"/>
        <phase name="Dispatch"/>
    </phaseOrder>
</axisconfig>
"""
    return text.replace("@VERSION@", version)


def esb_master_datasources_xml() -> str:
    """``repository/conf/datasources/master-datasources.xml``: the embedded H2 database."""
    # No XML declaration, as in the real file; the sample datasource is commented out with
    # the "<!--datasource ... datasource-->" form.
    return """<datasources-configuration xmlns:svns="http://org.wso2.securevault/configuration">
\x20\x20
    <providers>
        <provider>org.wso2.carbon.ndatasource.rdbms.RDBMSDataSourceReader</provider>
    </providers>

    <datasources>

        <datasource>
            <name>WSO2_CARBON_DB</name>
            <description>Embedded database of the registry and the user store</description>
            <jndiConfig>
                <name>jdbc/WSO2CarbonDB</name>
            </jndiConfig>
            <definition type="RDBMS">
                <configuration>
                    <driverClassName>org.h2.Driver</driverClassName>
                    <url>jdbc:h2:repository/database/WSO2CARBON_DB;DB_CLOSE_ON_EXIT=FALSE;LOCK_TIMEOUT=60000</url>
                    <username>wso2carbon</username>
                    <password>wso2carbon</password>
                    <!-- connection pool -->
                    <maxActive>50</maxActive>
                    <minIdle>5</minIdle>
                    <maxWait>60000</maxWait>
                    <testOnBorrow>true</testOnBorrow>
                    <validationQuery>SELECT 1</validationQuery>
                </configuration>
            </definition>
        </datasource>

        <!-- A sample: a datasource built from a driver's own DataSource class, with its
             password taken from the secure vault. -->
        <!--datasource>
            <name>SAMPLE_DATA_SOURCE</name>
            <jndiConfig>
                <name></name>
            </jndiConfig>
            <definition type="RDBMS">
                <configuration>
                    <username></username>
                    <password svns:secretAlias="WSO2.DB.Password"></password>
                    <dataSourceClassName>com.mysql.jdbc.jdbc2.optional.MysqlXADataSource</dataSourceClassName>
                    <dataSourceProps>
                        <property name="url">jdbc:mysql://localhost:3306/sample</property>
                    </dataSourceProps>
                </configuration>
            </definition>
        </datasource-->

    </datasources>

</datasources-configuration>
"""


def esb_user_mgt_xml() -> str:
    """``repository/conf/user-mgt.xml``: JDBC user store on the ``jdbc/WSO2CarbonDB`` datasource."""
    # No XML declaration; tab-indented comments; the regular expression keeps its
    # &lt;&gt; entities and backslash-escaped quotes.
    return """<!--
  ~ wso2-cluster-installer test fixture modelled on the user-mgt.xml of a Carbon 4.0 pack.
  -->

<UserManager>
    <Realm>
        <Configuration>
                <!-- the first administrator, created on the first start -->
                <AdminRole>admin</AdminRole>
                <AdminUser>
                     <UserName>admin</UserName>
                     <Password>admin</Password>
                </AdminUser>
            <EveryOneRoleName>everyone</EveryOneRoleName> <!-- every user has this role -->
            <Property name="dataSource">jdbc/WSO2CarbonDB</Property>
            <Property name="MultiTenantRealmConfigBuilder">org.wso2.carbon.user.core.config.multitenancy.SimpleRealmConfigBuilder</Property>
        </Configuration>
\t<!-- To keep users in an LDAP server instead of the database, use a user store like this one.
\t     Note: the product build replaces tokens inside UserStoreManager, so never put comments in it. -->
\t<!--UserStoreManager class="org.wso2.carbon.user.core.ldap.ReadWriteLDAPUserStoreManager">
            <Property name="ConnectionURL">ldap://localhost:${Ports.EmbeddedLDAP.LDAPServerPort}</Property>
            <Property name="ConnectionName">uid=admin,ou=system</Property>
            <Property name="UserSearchBase">ou=Users,dc=wso2,dc=org</Property>
            <Property name="UserNameSearchFilter">(&amp;(objectClass=person)(uid=?))</Property>
        </UserStoreManager-->

\t<!-- The default: users and roles in the database of the dataSource above. -->\t
        <UserStoreManager class="org.wso2.carbon.user.core.jdbc.JDBCUserStoreManager">
\t    <Property name="ReadOnly">false</Property>
            <Property name="MaxUserNameListLength">100</Property>
            <Property name="IsEmailUserName">false</Property>
            <Property name="PasswordDigest">SHA-256</Property>
            <Property name="StoreSaltedPassword">true</Property>
\t    <Property name="UsernameJavaRegEx">^[^~!#$;%^*+={}\\\\|\\\\\\\\&lt;&gt;,\\'\\"]{3,30}$</Property>
        </UserStoreManager>

        <AuthorizationManager
            class="org.wso2.carbon.user.core.authorization.JDBCAuthorizationManager">
        </AuthorizationManager>
    </Realm>
</UserManager>
"""


def esb_registry_xml() -> str:
    """``repository/conf/registry.xml``: local registry on ``jdbc/WSO2CarbonDB``, mounts as examples."""
    return """<?xml version="1.0" encoding="ISO-8859-1"?>

<!--
  ~ wso2-cluster-installer test fixture modelled on the registry.xml of a Carbon 4.0 pack.
  -->
<wso2registry>

    <!--
    The registry below lives in this server's own database. The config and governance
    spaces can be mounted from a shared database instead: see the remoteInstance and
    mount examples further down.
    -->

    <currentDBConfig>wso2registry</currentDBConfig>
    <!-- the local registry is writable and cached -->
    <readOnly>false</readOnly>
    <enableCache>true</enableCache>
    <registryRoot>/</registryRoot>

    <dbConfig name="wso2registry">
        <dataSource>jdbc/WSO2CarbonDB</dataSource>
    </dbConfig>

    <!-- A registry in another database, known by its id, e.g. a shared one: -->
    <!--remoteInstance url="https://localhost:9443/registry">
        <id>instanceid</id>
        <dbConfig>wso2registry</dbConfig>
        <readOnly>false</readOnly>
        <registryRoot>/</registryRoot>
        <enableCache>true</enableCache>
    </remoteInstance-->

    <!-- ...and a path of this registry served from it (overwrite is true, false or virtual): -->
    <!--mount path="/_system/config" overwrite="true">
        <instanceId>instanceid</instanceId>
        <targetPath>/_system/nodes</targetPath>
    </mount-->


    <versionResourcesOnChange>true</versionResourcesOnChange>

    <!-- Read once at start-up; changing these afterwards has no effect. -->
    <staticConfiguration>
        <versioningProperties>true</versioningProperties>
        <versioningComments>true</versioningComments>
        <versioningTags>true</versioningTags>
        <versioningRatings>true</versioningRatings>
    </staticConfiguration>
</wso2registry>
"""


def esb_mysql_sql() -> str:
    """``dbscripts/mysql.sql``: a Carbon-style schema (registry + user manager tables).

    Like the kernel script it has no CREATE DATABASE / USE; the registry tables are created
    ``IF NOT EXISTS`` but the user-manager tables and every index are not, so sourcing it a
    second time into the same database fails.
    """
    return """/*
 * wso2-cluster-installer test fixture: a Carbon-style MySQL schema with the shape of the
 * kernel's dbscripts/mysql.sql (registry tables first, then the user manager; each
 * statement ends with ";"), far shorter than the real one.
 */

-- ================================================================
-- Registry
-- ================================================================

CREATE TABLE IF NOT EXISTS REG_CLUSTER_LOCK (
        REG_LOCK_NAME       VARCHAR (20),
        REG_LOCK_STATUS     VARCHAR (20) DEFAULT 'UNLOCKED' COMMENT 'UNLOCKED or LOCKED; one row per lock',
        REG_LOCKED_TIME     TIMESTAMP NULL,
        REG_TENANT_ID       INTEGER DEFAULT 0,
        PRIMARY KEY (REG_LOCK_NAME)
)ENGINE INNODB;

-- what happened to which path, and who did it
CREATE TABLE IF NOT EXISTS REG_LOG (
        REG_LOG_ID          INTEGER AUTO_INCREMENT,
        REG_PATH            VARCHAR (750),
        REG_ACTION          INTEGER NOT NULL,
        REG_USER_ID         VARCHAR (31) NOT NULL,
        REG_LOGGED_TIME     TIMESTAMP NOT NULL,
        REG_TENANT_ID       INTEGER DEFAULT 0,
        PRIMARY KEY (REG_LOG_ID, REG_TENANT_ID)
)ENGINE INNODB;

-- Paths stop at 750 characters: an InnoDB index key may not pass 767 bytes.
CREATE TABLE IF NOT EXISTS REG_PATH(
        REG_PATH_ID         INTEGER NOT NULL AUTO_INCREMENT,
        REG_PATH_PARENT_ID  INTEGER,
        REG_PATH_VALUE      VARCHAR(750) NOT NULL,
        REG_TENANT_ID       INTEGER DEFAULT 0,
        CONSTRAINT PK_REG_PATH PRIMARY KEY(REG_PATH_ID, REG_TENANT_ID)
)ENGINE INNODB;

CREATE INDEX REG_PATH_IND_BY_PATH_VALUE USING HASH ON REG_PATH(REG_PATH_VALUE, REG_TENANT_ID);
CREATE INDEX REG_PATH_IND_BY_PATH_PARENT_ID USING HASH ON REG_PATH(REG_PATH_PARENT_ID, REG_TENANT_ID);

CREATE TABLE IF NOT EXISTS REG_CONTENT (
        REG_CONTENT_ID      INTEGER NOT NULL AUTO_INCREMENT,
        REG_CONTENT_DATA    LONGBLOB,
        REG_TENANT_ID       INTEGER DEFAULT 0,
        CONSTRAINT PK_REG_CONTENT PRIMARY KEY(REG_CONTENT_ID, REG_TENANT_ID)
)ENGINE INNODB;

/* Two TIMESTAMP NOT NULL columns without a default, as in the kernel script: accepted
   by MariaDB's and MySQL 8's defaults, refused by MySQL 5.7's strict NO_ZERO_DATE mode. */
CREATE TABLE IF NOT EXISTS REG_RESOURCE (
        REG_VERSION         INTEGER NOT NULL AUTO_INCREMENT,
        REG_PATH_ID         INTEGER NOT NULL,
        REG_NAME            VARCHAR(256),
        REG_MEDIA_TYPE      VARCHAR(500),
        REG_CONTENT_ID      INTEGER,
        REG_CREATOR         VARCHAR(31) NOT NULL,
        REG_CREATED_TIME    TIMESTAMP NOT NULL,
        REG_LAST_UPDATOR    VARCHAR(31),
        REG_LAST_UPDATED_TIME TIMESTAMP NOT NULL,
        REG_TENANT_ID       INTEGER DEFAULT 0,
        CONSTRAINT PK_REG_RESOURCE PRIMARY KEY(REG_VERSION, REG_TENANT_ID)
)ENGINE INNODB;

CREATE INDEX REG_RESOURCE_IND_BY_NAME USING HASH ON REG_RESOURCE(REG_NAME, REG_TENANT_ID);

CREATE TABLE IF NOT EXISTS REG_PROPERTY (
        REG_ID              INTEGER NOT NULL AUTO_INCREMENT,
        REG_NAME            VARCHAR(100) NOT NULL,
        REG_VALUE           VARCHAR(1000),
        REG_TENANT_ID       INTEGER DEFAULT 0,
        CONSTRAINT PK_REG_PROPERTY PRIMARY KEY(REG_ID, REG_TENANT_ID)
)ENGINE INNODB;

CREATE TABLE IF NOT EXISTS REG_RESOURCE_PROPERTY (
        REG_PROPERTY_ID     INTEGER NOT NULL,
        REG_PATH_ID         INTEGER,
        REG_RESOURCE_NAME   VARCHAR(256),
        REG_VERSION         INTEGER,
        REG_TENANT_ID       INTEGER DEFAULT 0
)ENGINE INNODB;

-- Links between resources are not kept in this release:
-- CREATE TABLE IF NOT EXISTS REG_ASSOCIATIONS (
--         SRC_PATH_ID     INTEGER,
--         TGT_PATH_ID     INTEGER
-- )ENGINE INNODB;
-- CREATE INDEX REG_ASSOCIATIONS_IND_BY_SRC ON REG_ASSOCIATIONS(SRC_PATH_ID);

-- ================================================================
-- User manager
-- ================================================================

CREATE TABLE UM_TENANT (
\t\tUM_ID INTEGER NOT NULL AUTO_INCREMENT,
\t\tUM_DOMAIN_NAME VARCHAR(255) NOT NULL,
\t\tUM_ACTIVE BOOLEAN DEFAULT FALSE,
        UM_EMAIL VARCHAR(255),
        UM_CREATED_DATE TIMESTAMP NOT NULL,
\t\tUNIQUE(UM_DOMAIN_NAME),
\t\tPRIMARY KEY (UM_ID)
)ENGINE INNODB;

CREATE UNIQUE INDEX INDEX_UM_TENANT_UM_DOMAIN_NAME
                    ON UM_TENANT (UM_DOMAIN_NAME);\x20

CREATE TABLE UM_USER (\x20
        UM_ID               INTEGER NOT NULL AUTO_INCREMENT,
        UM_TENANT_ID        INTEGER DEFAULT 0,
        UM_USER_NAME        VARCHAR(255) NOT NULL,
        UM_USER_PASSWORD    VARCHAR(255) NOT NULL,
        UM_SALT_VALUE       VARCHAR(31),
        UM_CHANGED_TIME     TIMESTAMP NOT NULL,
        UNIQUE(UM_USER_NAME, UM_TENANT_ID),
        PRIMARY KEY (UM_ID, UM_TENANT_ID)
)ENGINE INNODB;\x20

CREATE TABLE UM_ROLE (
        UM_ID               INTEGER NOT NULL AUTO_INCREMENT,
        UM_TENANT_ID        INTEGER DEFAULT 0,
        UM_ROLE_NAME        VARCHAR(255) NOT NULL,
        UNIQUE(UM_ROLE_NAME, UM_TENANT_ID),
        PRIMARY KEY (UM_ID, UM_TENANT_ID)
)ENGINE INNODB;

-- which user has which role
CREATE TABLE UM_USER_ROLE (
        UM_ID               INTEGER NOT NULL AUTO_INCREMENT,
        UM_TENANT_ID        INTEGER DEFAULT 0,
        UM_USER_ID          INTEGER NOT NULL,
        UM_ROLE_ID          INTEGER NOT NULL,
        FOREIGN KEY (UM_USER_ID, UM_TENANT_ID) REFERENCES UM_USER(UM_ID, UM_TENANT_ID),
        FOREIGN KEY (UM_ROLE_ID, UM_TENANT_ID) REFERENCES UM_ROLE(UM_ID, UM_TENANT_ID),
        UNIQUE (UM_USER_ID, UM_ROLE_ID, UM_TENANT_ID),
        PRIMARY KEY (UM_ID, UM_TENANT_ID)
)ENGINE INNODB;

CREATE TABLE UM_PERMISSION (
        UM_ID               INTEGER NOT NULL AUTO_INCREMENT,
        UM_TENANT_ID        INTEGER DEFAULT 0,
        UM_RESOURCE_ID      VARCHAR(255) NOT NULL,
        UM_ACTION           VARCHAR(255) NOT NULL,
        PRIMARY KEY (UM_ID, UM_TENANT_ID)
)ENGINE INNODB;

CREATE INDEX INDEX_UM_PERMISSION_UM_RESOURCE_ID_UM_ACTION ON UM_PERMISSION (UM_RESOURCE_ID, UM_ACTION, UM_TENANT_ID);

/* A role's permissions; UM_IS_ALLOWED is 1 (allowed) or 0 (denied); the pair
   (permission, role) is not unique. */
CREATE TABLE UM_ROLE_PERMISSION (
        UM_ID               INTEGER NOT NULL AUTO_INCREMENT,
        UM_TENANT_ID        INTEGER DEFAULT 0,
        UM_PERMISSION_ID    INTEGER NOT NULL,
        UM_ROLE_NAME        VARCHAR(255) NOT NULL,
        UM_IS_ALLOWED       SMALLINT NOT NULL,
        FOREIGN KEY (UM_PERMISSION_ID, UM_TENANT_ID) REFERENCES UM_PERMISSION(UM_ID, UM_TENANT_ID),
        PRIMARY KEY (UM_ID, UM_TENANT_ID)
)ENGINE INNODB;

CREATE TABLE UM_DIALECT(
        UM_ID               INTEGER NOT NULL AUTO_INCREMENT,
        UM_TENANT_ID        INTEGER DEFAULT 0,
        UM_DIALECT_URI      VARCHAR(255) NOT NULL DEFAULT 'http://wso2.org/claims',
        UNIQUE(UM_DIALECT_URI, UM_TENANT_ID),
        PRIMARY KEY (UM_ID, UM_TENANT_ID)
)ENGINE INNODB;

CREATE TABLE UM_CLAIM(
        UM_ID               INTEGER NOT NULL AUTO_INCREMENT,
        UM_TENANT_ID        INTEGER DEFAULT 0,
        UM_DIALECT_ID       INTEGER NOT NULL,
        UM_CLAIM_URI        VARCHAR(255) NOT NULL,
        UM_DISPLAY_TAG      VARCHAR(255),
        UM_REG_EX           VARCHAR(255) DEFAULT '^[^;]*$' COMMENT 'value pattern -- no ";" allowed',
        FOREIGN KEY(UM_DIALECT_ID, UM_TENANT_ID) REFERENCES UM_DIALECT(UM_ID, UM_TENANT_ID),
        UNIQUE(UM_DIALECT_ID, UM_CLAIM_URI, UM_TENANT_ID),
        PRIMARY KEY (UM_ID, UM_TENANT_ID)
)ENGINE INNODB;
"""


def esb_readme_txt(version: str) -> str:
    return f"""WSO2 Enterprise Service Bus {version} (wso2-cluster-installer test fixture)
=============================================================================

This is not WSO2 ESB. It is a small stand-in with the folder layout and the
configuration files of a wso2esb-{version} pack, built by
tests/support/build_distributions.py for the installer's tests. Its
bin/wso2server.sh starts the project's Carbon stand-in, not a Java server.

Layout
  bin/                      start script and version file
  dbscripts/                database schema scripts (mysql.sql)
  lib/                      libraries of the launcher
  repository/components/    OSGi bundles; lib/ takes third-party jars such as JDBC drivers
  repository/conf/          configuration files
  repository/logs/          server logs
"""


# --------------------------------------------------------------------------------------------
# WSO2 ELB 2.0.3
# --------------------------------------------------------------------------------------------


def elb_axis2_xml() -> str:
    """``repository/conf/axis2/axis2.xml`` of the ELB: Tribes clustering on, wka, no <members>."""
    # Quirks kept from the real ELB 2.0.x file: receivers indented by three spaces, the http
    # port parameter without a locked attribute, " true" with a leading blank, an active
    # mcastBindAddress, and no properties parameter, no <members>, no groupManagement.
    return """<?xml version="1.0" encoding="ISO-8859-1"?>
<!--
  ~ wso2-cluster-installer test fixture modelled on the axis2.xml of WSO2 ELB 2.0.x:
  ~ the same elements and commented-out defaults, far fewer of them.
  -->

<axisconfig name="AxisJava2.0">

    <!-- ================================================= -->
    <!--                  Parameters                       -->
    <!-- ================================================= -->
    <parameter name="ConfigContextTimeoutInterval" locked="false">30000</parameter>

    <!-- where Synapse finds its configuration: the load balancing sequences -->
    <parameter name="SynapseConfig.ConfigurationFile" locked="false">repository/deployment/server/synapse-configs</parameter>
    <parameter name="SynapseConfig.HomeDirectory" locked="false">.</parameter>
    <parameter name="SynapseConfig.ServerName" locked="false">localhost</parameter>

    <!-- ================================================= -->
    <!--             Transport Ins (Listeners)             -->
    <!-- ================================================= -->
    <!--Requests come in on the pass-through transports; change them here if needed -->
   <transportReceiver name="http" class="org.apache.synapse.transport.passthru.PassThroughHttpListener">
      <parameter name="port">8280</parameter>
      <parameter name="non-blocking"> true</parameter>
      <!-- answers ?wsdl and other GET requests -->
      <parameter name="httpGetProcessor" locked="false">org.wso2.carbon.transport.nhttp.api.PassThroughNHttpGetProcessor</parameter>
   </transportReceiver>
   <transportReceiver name="https" class="org.apache.synapse.transport.passthru.PassThroughHttpSSLListener">
        <parameter name="port" locked="false">8243</parameter>
        <parameter name="non-blocking" locked="false">true</parameter>
        <!--parameter name="WSDLEPRPrefix" locked="false">https://apachehost:port/somepath</parameter-->
        <!-- key pair of the load balancer's HTTPS listener -->
        <parameter name="keystore" locked="false">
            <KeyStore>
                <Location>repository/resources/security/wso2carbon.jks</Location>
                <Type>JKS</Type>
                <Password>wso2carbon</Password>
                <KeyPassword>wso2carbon</KeyPassword>
            </KeyStore>
        </parameter>
        <parameter name="httpGetProcessor" locked="false">org.wso2.carbon.transport.nhttp.api.PassThroughNHttpGetProcessor</parameter>
    </transportReceiver>

    <!-- the NIO transports, for those who prefer them -->
    <!--transportReceiver name="http" class="org.apache.synapse.transport.nhttp.HttpCoreNIOListener">
        <parameter name="port" locked="false">8280</parameter>
    </transportReceiver-->

    <!-- ================================================= -->
    <!--             Transport Outs (Senders)              -->
    <!-- ================================================= -->
    <transportSender name="http"  class="org.apache.synapse.transport.passthru.PassThroughHttpSender">
        <parameter name="non-blocking" locked="false">true</parameter>
    </transportSender>
    <transportSender name="https" class="org.apache.synapse.transport.passthru.PassThroughHttpSSLSender">
        <parameter name="non-blocking" locked="false">true</parameter>
    </transportSender>
    <transportSender name="local" class="org.apache.axis2.transport.local.LocalTransportSender"/>

    <!-- ================================================= -->
    <!--                Clustering                         -->
    <!-- ================================================= -->
    <!--
     The load balancer is a cluster member itself: it learns about the members of the
     clusters it fronts through the clustering agent below.
    -->
    <clustering class="org.apache.axis2.clustering.tribes.TribesClusteringAgent" enable="true">
        <!--
           true: the cluster is joined later, once the server is ready, not while the
           AxisConfiguration is built.
        -->
        <parameter name="AvoidInitiation">true</parameter>
        <!--
           How members find each other: "multicast", or "wka" (well-known addresses, listed
           in a <members> element).
        -->
        <parameter name="membershipScheme">wka</parameter>
        <!--
         The load balancers' own group; not the domain of the clusters they front.
        -->
        <parameter name="domain">wso2.carbon.lb.domain</parameter>
        <!--
           true: a response waits until every member has the state changes of its request.
        -->
        <parameter name="synchronizeAll">false</parameter>
        <!-- how often to retry a message before a member is taken as failed -->
        <parameter name="maxRetries">10</parameter>
        <!-- multicast group address and port -->
        <parameter name="mcastAddress">228.0.0.4</parameter>
        <parameter name="mcastPort">45564</parameter>
        <!-- how often membership heartbeats are sent (ms) -->
        <parameter name="mcastFrequency">500</parameter>
        <!-- a member silent for this long (ms) has left the group -->
        <parameter name="memberDropTime">3000</parameter>
        <!--
           The address of the network interface that sends and receives the multicast traffic
        -->
        <parameter name="mcastBindAddress">127.0.0.1</parameter>
        <!-- The host name or IP address this member advertises -->
        <!--parameter name="localMemberHost">127.0.0.1</parameter-->
        <!--
        The TCP port other members use to reach this one. The carbon.xml offset is not added.
         -->
        <parameter name="localMemberPort">4000</parameter>
        <!-- deliver messages in the order each sender sent them -->
        <parameter name="preserveMessageOrder">false</parameter>
        <!-- process each message at most once -->
        <parameter name="atmostOnceMessageSemantics">false</parameter>
        <!--
           State replication of the Axis2 context properties; names matching an exclude
           pattern stay local.
        -->
        <stateManager class="org.apache.axis2.clustering.state.DefaultStateManager"
                      enable="false">
            <replication>
                <!-- applies to every context -->
                <defaults>
                    <exclude name="local_*"/>
                </defaults>
            </replication>
        </stateManager>
    </clustering>

    <!-- ================================================= -->
    <!--                    Phases                         -->
    <!-- ================================================= -->
    <phaseOrder type="InFlow">
        <phase name="Transport"/>
        <phase name="Dispatch"/>
    </phaseOrder>
</axisconfig>
"""


def elb_loadbalancer_conf() -> str:
    """``repository/conf/loadbalancer.conf``: our version of the stock ELB file.

    Nested ``name { key value; }`` blocks, ``#`` comments (one after a value), tabs mixed
    with spaces and a few trailing blanks, kept byte for byte by a round-trip.
    """
    return """# wso2-cluster-installer test fixture modelled on the loadbalancer.conf that ships
# with WSO2 ELB 2.0.x: the load balancer's own settings, then the services it fronts.

# settings of the load balancer itself
loadbalancer {
    # how many load balancer instances to keep\x20
    instances           1;
    # no autoscaling in a static cluster
    enable_autoscaler   false;
    #autoscaler_task  org.wso2.carbon.mediator.autoscale.lbautoscale.task.ServiceRequestsInFlightAutoscaler;
    #size_of_cache\t\t100;
    # milliseconds between two runs of the autoscaler task
    autoscaler_task_interval 60000;
    # how long a freshly started instance gets to come up
    server_startup_delay 180000; #in ms, 60000 when not set
    session_timeout 90000;\x20
    fail_over true;
}

# the services this load balancer fronts
services {
    # values every service takes unless it sets its own
    defaults {
        min_app_instances       1;
        max_app_instances       4;
        # autoscaling thresholds, unused while enable_autoscaler is false
        max_requests_per_second   10;
        rounds_to_average       3;
        alarming_upper_rate 0.8;
        alarming_lower_rate 0.2;
        scale_down_factor 0.25;
        message_expiry_time     60000;
    }

    appserver {
        # separate several host names with commas
        hosts                   appserver.cloud-test.wso2.com,as.cloud-test.wso2.com;
\t#url_suffix \t\tas.wso2.com,appserver.wso2.com;
        domains   {
            wso2.as1.domain {
                # tenant_range splits tenants between clusters
                tenant_range    1-100;
            }
            wso2.as2.domain {
                tenant_range    *;
            }
        }
    }

    esb {
        # separate several host names with commas
\thosts                   esb.cloud-test.wso2.com;
\t#url_suffix \t\tesb.wso2.com;
        domains   {
            # one cluster serves every tenant
            wso2.esb.domain {
                tenant_range    *;
            }
        }
    }
\x20\x20\x20\x20
}
"""


def elb_user_mgt_xml() -> str:
    """``repository/conf/user-mgt.xml`` of the ELB: its own H2 user store, no dataSource property."""
    # Ends without a final newline, as the real ELB file does.
    return """<!--
  ~ wso2-cluster-installer test fixture modelled on the user-mgt.xml of WSO2 ELB 2.0.x,
  ~ which connects to its embedded H2 database itself rather than through a datasource.
  -->

<UserManager>
    <Realm>
        <Configuration>
                <!-- the first administrator, created on the first start -->
                <AdminRole>admin</AdminRole>
                <AdminUser>
                     <UserName>admin</UserName>
                     <Password>admin</Password>
                </AdminUser>
            <EveryOneRoleName>everyone</EveryOneRoleName> <!-- every user has this role -->
            <Property name="url">jdbc:h2:repository/database/WSO2CARBON_DB;DB_CLOSE_ON_EXIT=FALSE</Property>
            <Property name="userName">wso2carbon</Property>
            <Property name="password">wso2carbon</Property>
            <Property name="driverName">org.h2.Driver</Property>
            <Property name="maxActive">50</Property>
        </Configuration>
        <UserStoreManager class="org.wso2.carbon.user.core.jdbc.JDBCUserStoreManager">
\t    <Property name="ReadOnly">false</Property>
            <Property name="IsEmailUserName">false</Property>
            <Property name="PasswordDigest">SHA-256</Property>
        </UserStoreManager>

        <AuthorizationManager
            class="org.wso2.carbon.user.core.authorization.JDBCAuthorizationManager">
            <Property name="AdminRoleManagementPermissions">/permission</Property>
        </AuthorizationManager>
    </Realm>
</UserManager>"""


def elb_readme_txt(version: str) -> str:
    return f"""WSO2 Elastic Load Balancer {version} (wso2-cluster-installer test fixture)
==============================================================================

This is not WSO2 ELB. It is a small stand-in with the folder layout and the
configuration files of a wso2elb-{version} pack, built by
tests/support/build_distributions.py for the installer's tests. Its
bin/wso2server.sh starts the project's Carbon stand-in, not a Java server.
"""
