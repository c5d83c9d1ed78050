/* SPDX-License-Identifier: GPL-2.0 */
/* Network device traffic (socktop -d): packets and bytes per interface. */
#ifndef SOCKTAP_DEVICES_BPF_H
#define SOCKTAP_DEVICES_BPF_H

static __always_inline int on_dev(struct sk_buff *skb, bool tx)
{
	struct dev_value zero = {}, *v;
	struct net_device *dev = BPF_CORE_READ(skb, dev);
	struct dev_key k = {
		.netns = BPF_CORE_READ(dev, nd_net.net, ns.inum),
		.ifindex = BPF_CORE_READ(dev, ifindex),
	};
	u64 len = BPF_CORE_READ(skb, len);

	v = bpf_map_lookup_elem(&devs, &k);
	if (!v) {
		/* A device's first packet: name it, then make its row. */
		struct dev_name n = {};

		BPF_CORE_READ_STR_INTO(&n.name, dev, name);
		bpf_map_update_elem(&dev_names, &k, &n, BPF_NOEXIST);
		v = map_slot(&devs, &k, &zero);
	}
	if (!v)
		return 0;
	if (tx) {
		v->tx_packets += 1;
		v->tx_bytes += len;
	} else {
		v->rx_packets += 1;
		v->rx_bytes += len;
	}
	return 0;
}

SEC("tp_btf/net_dev_queue")
int BPF_PROG(net_dev_queue, struct sk_buff *skb)
{
	return on_dev(skb, true);
}

SEC("tp_btf/netif_receive_skb")
int BPF_PROG(netif_receive_skb, struct sk_buff *skb)
{
	return on_dev(skb, false);
}

#endif
