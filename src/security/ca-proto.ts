/**
 * The IstioCertificateService definition (`ca.proto`, kept next to this file as the reference), built from
 * a protobufjs descriptor here instead of loading the .proto with @grpc/proto-loader: every proxy process
 * calls this service once before it is ready, and loading and parsing with proto-loader cost each proxy
 * ~0.1 s CPU. Messages decode as proto-loader would give them (keepCase, longs as numbers, enums as
 * strings, defaults and oneofs set), so clients and the CA service see the same plain objects.
 */
import { makeGenericClientConstructor } from '@grpc/grpc-js';
import type { ServiceClientConstructor, ServiceDefinition } from '@grpc/grpc-js';
import protobuf from 'protobufjs';

export const CA_SERVICE_NAME = 'istio.v1.auth.IstioCertificateService';

export interface IstioCertificateRequest {
  csr: string;
  validity_duration: number;
  metadata?: { fields?: Record<string, unknown> } | null;
}

export interface IstioCertificateResponse {
  cert_chain: string[];
}

/** The options proto-loader was given, as protobufjs's toObject takes them. */
const TO_OBJECT: protobuf.IConversionOptions = {
  longs: Number,
  enums: String,
  defaults: true,
  oneofs: true,
};

/** `ca.proto` as a protobufjs JSON descriptor (field names as written: fromJSON keeps their case). */
function caRoot(): protobuf.Root {
  // fromJSON resolves every type at once, so google.protobuf.Struct goes into the same descriptor.
  const struct = protobuf.common.get('google/protobuf/struct.proto');
  if (!struct?.nested) throw new Error('protobufjs lacks google/protobuf/struct.proto');
  return protobuf.Root.fromJSON({
    nested: {
      ...struct.nested,
      istio: {
        nested: {
          v1: {
            nested: {
              auth: {
                nested: {
                  IstioCertificateRequest: {
                    fields: {
                      csr: { type: 'string', id: 1 },
                      validity_duration: { type: 'int64', id: 3 },
                      metadata: { type: 'google.protobuf.Struct', id: 4 },
                    },
                  },
                  IstioCertificateResponse: {
                    fields: { cert_chain: { rule: 'repeated', type: 'string', id: 1 } },
                  },
                },
              },
            },
          },
        },
      },
    },
  });
}

function codec(type: protobuf.Type): {
  serialize: (value: object) => Buffer;
  deserialize: (bytes: Buffer) => object;
} {
  return {
    serialize: (value) => Buffer.from(type.encode(type.fromObject(value)).finish()),
    deserialize: (bytes) => type.toObject(type.decode(bytes), TO_OBJECT),
  };
}

let cached: ServiceClientConstructor | undefined;

/** The client constructor; its `.service` is the definition servers add. */
export function caServiceClient(): ServiceClientConstructor {
  if (cached) return cached;
  const root = caRoot();
  const request = codec(root.lookupType('istio.v1.auth.IstioCertificateRequest'));
  const response = codec(root.lookupType('istio.v1.auth.IstioCertificateResponse'));
  const definition: ServiceDefinition = {
    CreateCertificate: {
      path: `/${CA_SERVICE_NAME}/CreateCertificate`,
      requestStream: false,
      responseStream: false,
      requestSerialize: request.serialize,
      requestDeserialize: request.deserialize,
      responseSerialize: response.serialize,
      responseDeserialize: response.deserialize,
      originalName: 'createCertificate',
    },
  };
  cached = makeGenericClientConstructor(definition, 'IstioCertificateService');
  return cached;
}

export function caServiceDefinition(): ServiceDefinition {
  return caServiceClient().service;
}
