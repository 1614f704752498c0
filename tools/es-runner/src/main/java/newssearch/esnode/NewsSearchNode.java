package newssearch.esnode;

import java.lang.reflect.Constructor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

import org.elasticsearch.common.logging.LogConfigurator;
import org.elasticsearch.common.settings.Settings;
import org.elasticsearch.env.Environment;
import org.elasticsearch.node.InternalSettingsPreparer;
import org.elasticsearch.node.MockNode;
import org.elasticsearch.node.Node;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.transport.netty4.Netty4Plugin;

/**
 * Starts one genuine Elasticsearch 8 node (server + netty4 HTTP/transport + language analyzers + the
 * analysis-common tokenizer and filters NewsSearch uses)
 * on loopback and keeps it running until the JVM gets SIGTERM/SIGINT.
 *
 * <p>Usage: {@code NewsSearchNode --port 9201 --data DIR [--cluster-name NAME]}. The node is
 * single-node (discovery.type=single-node), its data, logs and config live under DIR, and the
 * disk-threshold allocation decider is off so a nearly full disk never leaves shards unassigned.
 * MockNode (from Elasticsearch's published test framework) is the supported way to start a real
 * node with plugins taken from the classpath; nothing in the request path is mocked.
 */
public final class NewsSearchNode {

    private NewsSearchNode() {}

    public static void main(String[] args) throws Exception {
        int port = 9201;
        Path data = Path.of("es-data");
        String clusterName = "newssearch-dev";
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--port" -> port = Integer.parseInt(args[++i]);
                case "--data" -> data = Path.of(args[++i]);
                case "--cluster-name" -> clusterName = args[++i];
                default -> {
                    System.err.println("unknown argument: " + args[i]);
                    System.exit(2);
                }
            }
        }
        data = data.toAbsolutePath();
        Path config = Files.createDirectories(data.resolve("config"));
        Settings settings = Settings.builder()
            .put("cluster.name", clusterName)
            .put("node.name", "newssearch-dev-1")
            .put("path.home", data.toString())
            .put("path.data", data.resolve("data").toString())
            .put("path.logs", data.resolve("logs").toString())
            .put("network.host", "127.0.0.1")
            .put("http.port", port)
            .put("transport.port", 0)
            .put("http.type", Netty4Plugin.NETTY_HTTP_TRANSPORT_NAME)
            .put("transport.type", Netty4Plugin.NETTY_TRANSPORT_NAME)
            .put("discovery.type", "single-node")
            .put("cluster.routing.allocation.disk.threshold_enabled", false)
            .put("action.destructive_requires_name", false)
            .build();

        LogConfigurator.configureESLogging();
        LogConfigurator.configureWithoutConfig(settings);

        Node node = newNode(settings, config);
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            try {
                node.close();
                node.awaitClose(20, TimeUnit.SECONDS);
            } catch (Exception e) {
                e.printStackTrace();
            } finally {
                stopped.countDown();
            }
        }, "newssearch-node-shutdown"));
        node.start();
        System.out.println("newssearch-node started http://127.0.0.1:" + port);
        stopped.await();
    }

    /**
     * MockNode's public constructors ask ESTestCase for a transport port range, and ESTestCase's
     * static initialiser bootstraps test natives (refusing root, installing a security manager).
     * We already choose the ports, so we build the Environment ourselves and call the
     * Environment-taking constructor, which does nothing else.
     */
    private static Node newNode(Settings settings, Path config) throws Exception {
        Environment environment =
            InternalSettingsPreparer.prepareEnvironment(settings, Map.of(), config, () -> "newssearch-dev-1");
        Constructor<MockNode> constructor =
            MockNode.class.getDeclaredConstructor(Environment.class, Collection.class, boolean.class);
        constructor.setAccessible(true);
        Collection<Class<? extends Plugin>> plugins = List.of(
            Netty4Plugin.class, LanguageAnalyzersPlugin.class, AnalysisBuildingBlocksPlugin.class, RootInfoPlugin.class);
        return constructor.newInstance(environment, plugins, false);
    }
}
