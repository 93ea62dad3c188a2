package dev.finetune.engine.distributed;

import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.finetune.runtime.FineTuneException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.tensorflow.proto.ConfigProto;

class WorkerTest {
    @Test
    void aPortInUseIsReportedWithTheWorker() throws Exception {
        try (ServerSocket taken = new ServerSocket()) {
            taken.bind(new InetSocketAddress("0.0.0.0", 0));
            ClusterSpec cluster = ClusterSpec.resolve(List.of("127.0.0.1:" + taken.getLocalPort(), "127.0.0.1:1"), 0, null);
            FineTuneException e = assertThrows(FineTuneException.class, () -> Worker.start(cluster, ConfigProto.getDefaultInstance(), 5));
            assertTrue(e.getMessage().startsWith("Cannot start the TensorFlow server of worker 0 (127.0.0.1:" + taken.getLocalPort() + ")"),
                    e.getMessage());
        }
    }
}
