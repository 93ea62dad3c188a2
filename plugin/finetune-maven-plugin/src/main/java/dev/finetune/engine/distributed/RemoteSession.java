package dev.finetune.engine.distributed;

import dev.finetune.engine.model.NativeGraphs;
import dev.finetune.runtime.FineTuneException;
import java.lang.reflect.Constructor;
import org.bytedeco.javacpp.BytePointer;
import org.tensorflow.Graph;
import org.tensorflow.Session;
import org.tensorflow.internal.c_api.TF_Session;
import org.tensorflow.internal.c_api.TF_SessionOptions;
import org.tensorflow.internal.c_api.TF_Status;
import org.tensorflow.internal.c_api.global.tensorflow;
import org.tensorflow.proto.ConfigProto;

/**
 * A {@link Session} on a TensorFlow server's target ({@code grpc://host:port}) instead of in-process. TF Java 1.1.0's
 * public constructors take no target, so the session is made through the C API ({@code TF_SetTarget}) and wrapped with
 * TF Java's package-private {@code Session(Graph, TF_Session)} by reflection; the graph's native handle comes from
 * {@link NativeGraphs#handle}.
 */
final class RemoteSession {
    private RemoteSession() {
    }

    static Session open(Graph graph, ConfigProto config, String target) {
        TF_SessionOptions options = tensorflow.TF_NewSessionOptions();
        try (TF_Status status = TF_Status.newStatus()) {
            tensorflow.TF_SetTarget(options, target);
            byte[] bytes = config.toByteArray();
            tensorflow.TF_SetConfig(options, new BytePointer(bytes), bytes.length, status);
            status.throwExceptionIfNotOK();
            TF_Session session = tensorflow.TF_NewSession(NativeGraphs.handle(graph), options, status);
            status.throwExceptionIfNotOK();
            Constructor<Session> wrap = Session.class.getDeclaredConstructor(Graph.class, TF_Session.class);
            wrap.setAccessible(true);
            return wrap.newInstance(graph, session);
        } catch (ReflectiveOperationException e) {
            throw new FineTuneException("Cannot open a session on " + target + ": this TensorFlow Java does not have the "
                    + "Session(Graph, TF_Session) constructor of version 1.1.0 (" + e + ").", e);
        } finally {
            tensorflow.TF_DeleteSessionOptions(options);
        }
    }
}
