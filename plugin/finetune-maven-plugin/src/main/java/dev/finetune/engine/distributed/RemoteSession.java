package dev.finetune.engine.distributed;

import dev.finetune.runtime.FineTuneException;
import java.lang.reflect.Constructor;
import java.lang.reflect.Method;
import org.bytedeco.javacpp.BytePointer;
import org.tensorflow.Graph;
import org.tensorflow.Session;
import org.tensorflow.internal.c_api.TF_Graph;
import org.tensorflow.internal.c_api.TF_Session;
import org.tensorflow.internal.c_api.TF_SessionOptions;
import org.tensorflow.internal.c_api.TF_Status;
import org.tensorflow.internal.c_api.global.tensorflow;
import org.tensorflow.proto.ConfigProto;

/**
 * A {@link Session} on a TensorFlow server's target ({@code grpc://host:port}) instead of in-process. TF Java 1.1.0's
 * public constructors take no target, so the session is made through the C API ({@code TF_SetTarget}) and wrapped with
 * TF Java's package-private {@code Session(Graph, TF_Session)} by reflection; the graph's native handle comes from the
 * package-private {@code Graph.ref()}, whose reference is closed at once (the session takes its own, and one left open
 * makes {@code Graph.close()} wait for ever).
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
            TF_Session session = tensorflow.TF_NewSession(nativeGraph(graph), options, status);
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

    private static TF_Graph nativeGraph(Graph graph) throws ReflectiveOperationException {
        Method ref = Graph.class.getDeclaredMethod("ref");
        ref.setAccessible(true);
        Object reference = ref.invoke(graph);
        Method handle = reference.getClass().getDeclaredMethod("nativeHandle");
        handle.setAccessible(true);
        try {
            return (TF_Graph) handle.invoke(reference);
        } finally {
            Method close = reference.getClass().getDeclaredMethod("close");
            close.setAccessible(true);
            close.invoke(reference);
        }
    }
}
