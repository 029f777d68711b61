import { KIND } from '../../api/index.js';
import type { Analyzer } from '../analyzer.js';

/**
 * IST0126 for MeshNetworks endpoints whose `fromRegistry` names no known registry (Mock, Kubernetes,
 * External, or a cluster named in an `istio/multiCluster=true` secret). istioctl analyzes files with Istio's
 * default MeshNetworks, which has no networks, and reads real ones only from a running cluster's `istio`
 * ConfigMap. skiff has no MeshNetworks input (nor a resource to attach the message to), so, like istioctl
 * on files, this analyzer has nothing to check; it is registered so `--analyzer` and `-L` match istioctl.
 */
export const meshNetworksAnalyzer: Analyzer = {
  name: 'meshnetworks.MeshNetworksAnalyzer',
  description: 'Check the validity of MeshNetworks in the cluster',
  inputs: [KIND.Secret],
  analyze() {
    // No MeshNetworks input: see above.
  },
};
