/**
 * CA failures, typed as Istio's security/pkg/pki/error (CA_NOT_READY, CSR_ERROR, TTL_ERROR, CERT_GEN_ERROR),
 * plus IDENTITY_MISMATCH for a CSR naming someone other than the caller (skiff refuses it; Istio 1.17
 * silently overwrites the SANs).
 */
import { status } from '@grpc/grpc-js';

export type CaErrorType = 'CA_NOT_READY' | 'CSR_ERROR' | 'TTL_ERROR' | 'CERT_GEN_ERROR' | 'IDENTITY_MISMATCH';

export class CaError extends Error {
  constructor(
    readonly type: CaErrorType,
    message: string,
  ) {
    super(message);
    this.name = 'CaError';
  }

  /** The gRPC status the CA service answers with (Istio's HTTPErrorCode). */
  get grpcCode(): status {
    switch (this.type) {
      case 'CSR_ERROR':
      case 'TTL_ERROR':
        return status.INVALID_ARGUMENT;
      case 'IDENTITY_MISMATCH':
        return status.PERMISSION_DENIED;
      default:
        return status.INTERNAL;
    }
  }
}
