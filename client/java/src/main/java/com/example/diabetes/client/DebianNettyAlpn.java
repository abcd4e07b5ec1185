package com.example.diabetes.client;

import io.netty.handler.codec.http2.Http2SecurityUtil;
import io.netty.handler.ssl.JdkApplicationProtocolNegotiator;
import io.netty.handler.ssl.JdkSslClientContext;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SupportedCipherSuiteFilter;
import java.io.File;
import java.lang.reflect.Constructor;
import java.util.List;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLHandshakeException;

/**
 * TLS with ALPN for Debian's netty 4.1.48, whose JDK provider negotiates no ALPN (Debian
 * removed JdkAlpnApplicationProtocolNegotiator, so GrpcSslContexts fails with "JDK provider
 * does not support ALPN protocol"), while gRPC needs "h2" negotiated. netty's own Java 9
 * engine wrapper (Java9SslEngine, which uses the JDK's ALPN API) is still in the jar but not
 * public: it is made here by reflection. Builds against upstream netty never come here.
 */
final class DebianNettyAlpn implements JdkApplicationProtocolNegotiator {
  private static final List<String> PROTOCOLS = List.of("h2");

  private DebianNettyAlpn() {}

  @SuppressWarnings("deprecation") // the one public constructor that takes a negotiator
  static SslContext clientContext(File caFile) throws SSLException {
    return new JdkSslClientContext(
        caFile, null, Http2SecurityUtil.CIPHERS, SupportedCipherSuiteFilter.INSTANCE,
        new DebianNettyAlpn(), 0, 0);
  }

  @Override
  public List<String> protocols() {
    return PROTOCOLS;
  }

  @Override
  public SslEngineWrapperFactory wrapperFactory() {
    return (engine, negotiator, isServer) -> {
      try {
        Constructor<?> wrapper =
            Class.forName("io.netty.handler.ssl.Java9SslEngine")
                .getDeclaredConstructor(
                    SSLEngine.class, JdkApplicationProtocolNegotiator.class, boolean.class);
        wrapper.setAccessible(true);
        return (SSLEngine) wrapper.newInstance(engine, negotiator, isServer);
      } catch (ReflectiveOperationException missing) {
        throw new IllegalStateException("this netty has no Java9SslEngine for ALPN", missing);
      }
    };
  }

  @Override
  public ProtocolSelectorFactory protocolSelectorFactory() {
    return (engine, supported) -> {
      throw new UnsupportedOperationException("a client does not select the protocol");
    };
  }

  @Override
  public ProtocolSelectionListenerFactory protocolListenerFactory() {
    return (engine, protocols) ->
        new ProtocolSelectionListener() {
          @Override
          public void unsupported() {
            // The server chose no protocol: gRPC then refuses the connection itself.
          }

          @Override
          public void selected(String protocol) throws Exception {
            if (!protocols.contains(protocol)) {
              throw new SSLHandshakeException("the server chose " + protocol + ", not h2");
            }
          }
        };
  }
}
